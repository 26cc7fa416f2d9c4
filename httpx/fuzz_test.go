package httpx

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"testing"
)

// FuzzParse checks that Parse never panics, never claims more than it was given,
// fails only with ErrNeedMore or an *Error, and that whatever it accepts net/http's
// ReadRequest accepts too, with the same meaning.
//
// Divergences allowed (each normalised or skipped below, and documented on Parse):
//   - a '#fragment' in the target: we drop it, net/http keeps it in Path or RawQuery
//     (and validates its escapes); the fragment is removed before asking net/http;
//   - absolute-form without a path: our Path is "/", net/http's is "";
//   - Content-Length lists such as "5, 5": RFC 9110 lets us accept them, net/http
//     rejects them; such inputs are not compared.
func FuzzParse(f *testing.F) {
	for _, c := range validCases() {
		f.Add([]byte(c.in))
	}
	for _, c := range invalidCases() {
		if len(c.in) <= fuzzMaxHead {
			f.Add([]byte(c.in))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := Request{MaxHeaderBytes: fuzzMaxHead, MaxBodyBytes: fuzzMaxBody}
		for len(data) > 0 { // pipelined requests, as a connection would see them
			n := checkParse(t, &r, data)
			if n == 0 {
				return
			}
			compareNetHTTP(t, &r, data[:n])
			data = data[n:]
		}
	})
}

// checkParse parses data with r and checks the invariants that do not need net/http.
// It returns how many bytes the request used, 0 when Parse failed.
func checkParse(t *testing.T, r *Request, data []byte) int {
	n, err := r.Parse(data)
	if n < 0 || n > len(data) || (err != nil && n != 0) || (err == nil && n == 0) {
		t.Fatalf("Parse = %d, %v for %d bytes", n, err, len(data))
	}
	var perr *Error
	if err != nil && !errors.Is(err, ErrNeedMore) && !errors.As(err, &perr) {
		t.Fatalf("untyped error %v", err)
	}
	if err != nil {
		return 0
	}
	r.Query("a")
	r.Cookie("a")
	want := snapshot(r)
	if _, err := r.Parse(data[:n-1]); !errors.Is(err, ErrNeedMore) {
		t.Fatalf("prefix of an accepted request: %v", err)
	}
	if n2, err := r.Parse(data[:n]); n2 != n || err != nil || !reflect.DeepEqual(snapshot(r), want) {
		t.Fatalf("reparse differs: %d, %v", n2, err)
	}
	return n
}

// Small limits keep the limit paths reachable with small inputs: the fuzzer spends
// long minimising large ones.
const (
	fuzzMaxHead = 1024
	fuzzMaxBody = 2048
)

// compareNetHTTP checks that net/http reads data (one request accepted by r) the same way.
func compareNetHTTP(t *testing.T, r *Request, data []byte) {
	for _, h := range r.Headers {
		if equalFold(h.Name, strContentLength) && bytes.IndexByte(h.Value, ',') >= 0 {
			return // allowed divergence: Content-Length list
		}
	}
	br := bufio.NewReader(bytes.NewReader(withoutFragment(data)))
	req, err := http.ReadRequest(br)
	if err != nil {
		t.Fatalf("net/http rejects what we accept: %v\n%q", err, data)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil || br.Buffered() != 0 {
		t.Fatalf("net/http framing differs: %v, %d bytes left\n%q", err, br.Buffered(), data)
	}
	netPath := req.URL.Path
	if netPath == "" && string(r.Path) == "/" {
		netPath = "/" // allowed divergence: absolute-form without a path
	}
	cl := r.ContentLength
	if cl < 0 {
		cl = 0 // net/http reports no Content-Length as 0 for requests
	}
	switch {
	case req.Method != string(r.Method), netPath != string(r.Path), req.URL.RawQuery != string(r.RawQuery):
		t.Fatalf("request line differs: net/http %q %q %q\n%q", req.Method, netPath, req.URL.RawQuery, data)
	case req.ProtoMajor != 1 || req.ProtoMinor != r.ProtoMinor:
		t.Fatalf("version differs: net/http %s", req.Proto)
	case req.ContentLength != cl || string(body) != string(r.Body):
		t.Fatalf("body differs: net/http %d %q", req.ContentLength, body)
	case req.Close == r.KeepAlive:
		t.Fatalf("keep-alive differs: net/http Close=%v", req.Close)
	}
	if host := r.Header(strHost); req.URL.Host == "" && req.Host != string(host) {
		t.Fatalf("host differs: ours %q, net/http %q", host, req.Host)
	}
	compareHeaders(t, r, req.Header)
}

// compareHeaders compares our headers, grouped by canonical name, with net/http's.
func compareHeaders(t *testing.T, r *Request, netHeader http.Header) {
	ours := map[string][]string{}
	for _, h := range r.Headers {
		k := http.CanonicalHeaderKey(string(h.Name))
		ours[k] = append(ours[k], string(h.Value))
	}
	for k, vs := range ours {
		switch k {
		case "Host":
			continue // ReadRequest moves it to Request.Host, compared above
		case "Content-Length":
			vs = vs[:1] // net/http keeps one of several equal values
		}
		if got := netHeader.Values(k); !slices.Equal(got, vs) {
			t.Fatalf("header %s: ours %q, net/http %q", k, vs, got)
		}
	}
	for k := range netHeader {
		// net/http adds Cache-Control: no-cache for Pragma: no-cache.
		if _, ok := ours[k]; !ok && !(k == "Cache-Control" && ours["Pragma"] != nil) {
			t.Fatalf("net/http has header %s, we do not", k)
		}
	}
}

// withoutFragment returns data with the '#fragment' of the request target removed.
// data is a request Parse accepted, so its first line is "METHOD SP target SP version".
func withoutFragment(data []byte) []byte {
	line, _, _ := cut(data, '\n')
	_, rest, _ := cut(line, ' ')
	target, _, _ := cut(rest, ' ')
	i := bytes.IndexByte(target, '#')
	if i < 0 {
		return data
	}
	start := len(line) - len(rest) + i // offset of '#' in data
	end := len(line) - len(rest) + len(target)
	return slices.Concat(data[:start], data[end:])
}

// FuzzQuery compares Query with net/url.ParseQuery.
func FuzzQuery(f *testing.F) {
	f.Add("a=1&b=%41+c&a=2")
	f.Add("%zz=1&k=%zz&k=2;x&=v")
	f.Fuzz(func(t *testing.T, q string) {
		checkQuery(t, q)
	})
}
