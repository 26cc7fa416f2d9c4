package load

import (
	"bufio"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

var sampleStream = "retry: 2000\n\n" +
	": hb\n\n" +
	"id: 17\nevent: tick\ndata: {\"seq\":1,\"ts\":5}\n\n" +
	"event: realtime.reset\r\nid: 20\r\ndata: {\"reason\":\"buffer_gap\"}\r\n\r\n" +
	"\n" + // stray blank line
	"data:a\ndata: b\n: comment inside\nid\n\n" +
	"event: tick\nid: 1795752294:0\ndata: " + strings.Repeat("x", 10000) + "\n\n"

type wantFrame struct {
	id, event, data       string
	hasID, retry, comment bool
}

var sampleFrames = []wantFrame{
	{retry: true},
	{comment: true},
	{id: "17", event: "tick", data: `{"seq":1,"ts":5}`, hasID: true},
	{id: "20", event: "realtime.reset", data: `{"reason":"buffer_gap"}`, hasID: true},
	{data: "a\nb", hasID: true},
	{id: "1795752294:0", event: "tick", data: strings.Repeat("x", 10000), hasID: true},
}

func scanAll(t *testing.T, r io.Reader) {
	t.Helper()
	sc := NewScanner(bufio.NewReaderSize(r, 16))
	for i, w := range sampleFrames {
		f, err := sc.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		got := wantFrame{string(f.ID), string(f.Event), string(f.Data), f.HasID, f.Retry, f.Comment}
		if got != w {
			t.Fatalf("frame %d: got %+v, want %+v", i, got, w)
		}
	}
	if _, err := sc.Next(); err != io.EOF {
		t.Fatalf("after the last frame: %v, want EOF", err)
	}
}

func TestScannerWhole(t *testing.T) { scanAll(t, strings.NewReader(sampleStream)) }

func TestScannerByteByByte(t *testing.T) {
	scanAll(t, iotest.OneByteReader(strings.NewReader(sampleStream)))
}

// cutReader returns the stream in chunks cut at random points.
type cutReader struct {
	s   string
	rng *rand.Rand
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.s == "" {
		return 0, io.EOF
	}
	n := min(1+c.rng.IntN(40), len(c.s), len(p))
	copy(p, c.s[:n])
	c.s = c.s[n:]
	return n, nil
}

func TestScannerRandomCuts(t *testing.T) {
	for seed := range uint64(500) {
		scanAll(t, &cutReader{s: sampleStream, rng: rand.New(rand.NewPCG(seed, 1))})
	}
}

func TestScannerTruncatedFrame(t *testing.T) {
	sc := NewScanner(bufio.NewReader(strings.NewReader("id: 1\ndata: x\n")))
	if _, err := sc.Next(); err != io.EOF {
		t.Fatalf("got %v, want EOF for a frame without its blank line", err)
	}
}
