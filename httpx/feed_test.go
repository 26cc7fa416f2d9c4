package httpx

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// feed simulates a connection: chunks arrive one after another, Parse runs on
// everything not consumed yet, and each parsed request is snapshotted. Any result
// other than success or ErrNeedMore is returned as an error, as is input left over.
func feed(r *Request, chunks [][]byte) ([]snap, error) {
	var pending []byte
	var out []snap
	for _, c := range chunks {
		pending = append(pending, c...)
		for len(pending) > 0 {
			n, err := r.Parse(pending)
			if errors.Is(err, ErrNeedMore) {
				break
			}
			if err != nil {
				return out, err
			}
			if n <= 0 || n > len(pending) {
				panic("Parse returned a bad length")
			}
			out = append(out, snapshot(r))
			pending = pending[n:]
		}
	}
	if len(pending) > 0 {
		return out, ErrNeedMore
	}
	return out, nil
}

func whole(in string) [][]byte { return [][]byte{[]byte(in)} }

func byteByByte(in string) [][]byte {
	chunks := make([][]byte, len(in))
	for i := 0; i < len(in); i++ {
		chunks[i] = []byte{in[i]}
	}
	return chunks
}

// randomCuts splits in at up to 4 random points.
func randomCuts(rng *rand.Rand, in string) [][]byte {
	cuts := []int{0, len(in)}
	for range rng.IntN(4) + 1 {
		cuts = append(cuts, rng.IntN(len(in)+1))
	}
	slices.Sort(cuts)
	var chunks [][]byte
	for i := 1; i < len(cuts); i++ {
		chunks = append(chunks, []byte(in[cuts[i-1]:cuts[i]]))
	}
	return chunks
}

// checkFeed feeds in three ways (whole, byte by byte, random cuts) and compares the
// requests parsed with want.
func checkFeed(t *testing.T, r *Request, in string, want []snap, cutRuns int, rng *rand.Rand) {
	t.Helper()
	check := func(how string, chunks [][]byte) {
		t.Helper()
		got, err := feed(r, chunks)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: err %v\ngot  %+v\nwant %+v", how, err, got, want)
		}
	}
	check("whole", whole(in))
	check("byte by byte", byteByByte(in))
	for i := range cutRuns {
		chunks := randomCuts(rng, in)
		check(fmt.Sprintf("random cuts (run %d, %d chunks)", i, len(chunks)), chunks)
	}
}

func TestParseFeed(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range validCases() {
		t.Run(c.name, func(t *testing.T) {
			r := &Request{MaxHeaderBytes: c.maxHead, MaxBodyBytes: c.maxBd}
			checkFeed(t, r, c.in, []snap{c.want}, 2000, rng)
		})
	}
}

func TestParsePipelined(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var cases []validCase
	for _, c := range validCases() {
		if c.maxHead == 0 && c.maxBd == 0 {
			cases = append(cases, c)
		}
	}
	r := &Request{} // one Request reused for every input, as a connection would
	for run := range 300 {
		var in string
		var want []snap
		for range 2 + run%2 {
			c := cases[rng.IntN(len(cases))]
			in += c.in
			want = append(want, c.want)
		}
		checkFeed(t, r, in, want, 10, rng)
	}
}

// TestParseTrailingBytes checks that bytes after a complete request do not change
// the result: Parse consumes exactly the request.
func TestParseTrailingBytes(t *testing.T) {
	for _, c := range validCases() {
		r := Request{MaxHeaderBytes: c.maxHead, MaxBodyBytes: c.maxBd}
		buf := []byte(c.in + "GARBAGE \x00\r\n")
		n, err := r.Parse(buf)
		if err != nil || n != len(c.in) || !reflect.DeepEqual(snapshot(&r), c.want) {
			t.Errorf("%s: Parse = %d, %v", c.name, n, err)
		}
	}
}
