package httpx

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// snap is a copy of what Parse produced, independent of the input buffer.
type snap struct {
	Method, RawPath, Path, RawQuery string
	ProtoMinor                      int
	Headers                         []string // "Name: Value"
	ContentLength                   int64
	Body                            string
	KeepAlive                       bool
}

func snapshot(r *Request) snap {
	s := snap{
		Method: string(r.Method), RawPath: string(r.RawPath), Path: string(r.Path),
		RawQuery: string(r.RawQuery), ProtoMinor: r.ProtoMinor,
		ContentLength: r.ContentLength, Body: string(r.Body), KeepAlive: r.KeepAlive,
	}
	for _, h := range r.Headers {
		s.Headers = append(s.Headers, string(h.Name)+": "+string(h.Value))
	}
	return s
}

type validCase struct {
	name           string
	in             string
	maxHead, maxBd int // Request limits; 0 for the defaults
	want           snap
}

// get builds the snap of a bodiless HTTP/1.1 request.
func get(method, path string, headers ...string) snap {
	return snap{Method: method, RawPath: path, Path: path, ProtoMinor: 1, Headers: headers,
		ContentLength: -1, KeepAlive: true}
}

// with returns s modified by f, for compact table entries.
func with(s snap, f func(*snap)) snap {
	f(&s)
	return s
}

func manyHeaders(n int) (string, []string) {
	var b strings.Builder
	var hs []string
	for i := range n {
		fmt.Fprintf(&b, "X-H%d: %d\r\n", i, i)
		hs = append(hs, fmt.Sprintf("X-H%d: %d", i, i))
	}
	return b.String(), hs
}

const jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJydW46NDIiLCJleHAiOjE3MDAwMDAwMDB9.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"

const publishBody = `{"event":"progress","data":{"step":3,"of":10,"msg":"compiling sources"},"id":"42"}`

var publishRequest = "POST /publish/run:42 HTTP/1.1\r\n" +
	"Host: realtime.internal:8080\r\n" +
	"Authorization: Bearer " + jwt + "\r\n" +
	"Content-Type: application/json\r\n" +
	"Content-Length: " + fmt.Sprint(len(publishBody)) + "\r\n" +
	"User-Agent: workkit-runner/1.4 (linux; amd64)\r\n" +
	"\r\n" + publishBody

var sseRequest = "GET /sse/run:42?since=17&fmt=json&tag=a%20b+c HTTP/1.1\r\n" +
	"Host: realtime.example.com\r\n" +
	"Accept: text/event-stream\r\n" +
	"Cache-Control: no-cache\r\n" +
	"Cookie: _ga=GA1.2.3; session=\"c2Vzc2lvbi10b2tlbg\"; theme=dark\r\n" +
	"Last-Event-ID: 1699999999-17\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0\r\n" +
	"\r\n"

func validCases() []validCase {
	many, manyWant := manyHeaders(MaxHeaders - 1) // and Host
	return []validCase{
		{name: "get", in: "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
			want: get("GET", "/", "Host: example.com")},
		{name: "no headers", in: "GET /x HTTP/1.1\r\nHost: h\r\n\r\n", want: get("GET", "/x", "Host: h")},
		{name: "http10", in: "GET /a HTTP/1.0\r\n\r\n",
			want: with(get("GET", "/a"), func(s *snap) { s.ProtoMinor, s.KeepAlive = 0, false })},
		{name: "http10 keep-alive", in: "GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
			want: with(get("GET", "/a", "Connection: Keep-Alive"), func(s *snap) { s.ProtoMinor = 0 })},
		{name: "http11 close", in: "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, CLOSE\r\n\r\n",
			want: with(get("GET", "/", "Host: h", "Connection: keep-alive, CLOSE"), func(s *snap) { s.KeepAlive = false })},
		{name: "close in second connection header", in: "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nconnection: close\r\n\r\n",
			want: with(get("GET", "/", "Host: h", "Connection: upgrade", "connection: close"), func(s *snap) { s.KeepAlive = false })},
		{name: "sse", in: sseRequest, want: with(get("GET", "/sse/run:42",
			"Host: realtime.example.com", "Accept: text/event-stream", "Cache-Control: no-cache",
			`Cookie: _ga=GA1.2.3; session="c2Vzc2lvbi10b2tlbg"; theme=dark`, "Last-Event-ID: 1699999999-17",
			"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0"),
			func(s *snap) { s.RawQuery = "since=17&fmt=json&tag=a%20b+c" })},
		{name: "publish", in: publishRequest, want: with(get("POST", "/publish/run:42",
			"Host: realtime.internal:8080", "Authorization: Bearer "+jwt, "Content-Type: application/json",
			fmt.Sprintf("Content-Length: %d", len(publishBody)), "User-Agent: workkit-runner/1.4 (linux; amd64)"),
			func(s *snap) { s.ContentLength, s.Body = int64(len(publishBody)), publishBody })},
		{name: "bare LF", in: "GET / HTTP/1.1\nHost: a\n\n", want: get("GET", "/", "Host: a")},
		{name: "mixed line ends", in: "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\n", want: get("GET", "/", "Host: a", "X: y")},
		{name: "odd spacing", in: "GET / HTTP/1.1\r\nHost: h\r\nX-A:value\r\nX-B: \t spaced out \t\r\nX-Empty:\r\nX-Blank:   \r\n\r\n",
			want: get("GET", "/", "Host: h", "X-A: value", "X-B: spaced out", "X-Empty: ", "X-Blank: ")},
		{name: "obs-text value", in: "GET / HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9\r\n\r\n", want: get("GET", "/", "Host: h", "X: caf\xc3\xa9")},
		{name: "percent path", in: "GET /a%20b/%2F%e2%82%AC+x?q=%zz HTTP/1.1\r\nHost: h\r\n\r\n",
			want: with(get("GET", "/a%20b/%2F%e2%82%AC+x", "Host: h"), func(s *snap) { s.Path, s.RawQuery = "/a b//\u20ac+x", "q=%zz" })},
		{name: "raw utf8 path", in: "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", want: get("GET", "/caf\xc3\xa9", "Host: h")},
		{name: "double slash", in: "GET //host/p HTTP/1.1\r\nHost: h\r\n\r\n", want: get("GET", "//host/p", "Host: h")},
		{name: "absolute", in: "GET http://example.com:8080/x/y?z=1 HTTP/1.1\r\nHost: other\r\n\r\n",
			want: with(get("GET", "/x/y", "Host: other"), func(s *snap) { s.RawQuery = "z=1" })},
		{name: "absolute no path", in: "GET HTTPS://Example.COM HTTP/1.1\r\nHost: h\r\n\r\n", want: get("GET", "/", "Host: h")},
		{name: "absolute query no path", in: "GET http://h?x=1/2 HTTP/1.1\r\nHost: h\r\n\r\n",
			want: with(get("GET", "/", "Host: h"), func(s *snap) { s.RawQuery = "x=1/2" })},
		{name: "absolute ipv6", in: "GET http://[::1]:80/p HTTP/1.1\r\nHost: h\r\n\r\n", want: get("GET", "/p", "Host: h")},
		{name: "absolute sub-delims host", in: "GET http://a-b.c_d~e!$&'()*+,;=:/p HTTP/1.1\r\nHost: h\r\n\r\n", want: get("GET", "/p", "Host: h")},
		{name: "options asterisk", in: "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", want: get("OPTIONS", "*", "Host: h")},
		{name: "fragment", in: "GET /p?q=1#frag?x HTTP/1.1\r\nHost: h\r\n\r\n",
			want: with(get("GET", "/p", "Host: h"), func(s *snap) { s.RawQuery = "q=1" })},
		{name: "fragment before query", in: "GET /p#f?x HTTP/1.1\r\nHost: h\r\n\r\n", want: get("GET", "/p", "Host: h")},
		{name: "empty query", in: "GET /p? HTTP/1.1\r\nHost: h\r\n\r\n", want: get("GET", "/p", "Host: h")},
		{name: "query with question marks", in: "GET /p??a=?b HTTP/1.1\r\nHost: h\r\n\r\n",
			want: with(get("GET", "/p", "Host: h"), func(s *snap) { s.RawQuery = "?a=?b" })},
		{name: "custom method", in: "M-SEARCH /x HTTP/1.1\r\nHost: h\r\n\r\n", want: get("M-SEARCH", "/x", "Host: h")},
		{name: "connect origin-form", in: "CONNECT /rpc HTTP/1.1\r\nHost: h\r\n\r\n", want: get("CONNECT", "/rpc", "Host: h")},
		{name: "content-length zero", in: "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
			want: with(get("POST", "/p", "Host: h", "Content-Length: 0"), func(s *snap) { s.ContentLength = 0 })},
		{name: "content-length leading zeros", in: "POST /p HTTP/1.1\r\nHost: h\r\ncontent-length: 003\r\n\r\nabc",
			want: with(get("POST", "/p", "Host: h", "content-length: 003"), func(s *snap) { s.ContentLength, s.Body = 3, "abc" })},
		{name: "content-length duplicates", in: "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length:2 \r\n\r\nhi",
			want: with(get("POST", "/p", "Host: h", "Content-Length: 2", "Content-Length: 2"), func(s *snap) { s.ContentLength, s.Body = 2, "hi" })},
		{name: "content-length list", in: "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 2 , 2,2\r\n\r\nhi",
			want: with(get("POST", "/p", "Host: h", "Content-Length: 2 , 2,2"), func(s *snap) { s.ContentLength, s.Body = 2, "hi" })},
		{name: "body with CRLFs", in: "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\n\r\n\r\nGET ",
			want: with(get("POST", "/p", "Host: h", "Content-Length: 8"), func(s *snap) { s.ContentLength, s.Body = 8, "\r\n\r\nGET " })},
		{name: "max headers", in: "GET / HTTP/1.1\r\nHost: h\r\n" + many + "\r\n", want: get("GET", "/", append([]string{"Host: h"}, manyWant...)...)},
		{name: "head exactly at limit", in: "GET / HTTP/1.1\r\nHost: h\r\nX: 0123456789\r\n\r\n", maxHead: 42,
			want: get("GET", "/", "Host: h", "X: 0123456789")},
		{name: "expect 100-continue", in: "POST /p HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nhi",
			want: with(get("POST", "/p", "Host: h", "Expect: 100-Continue", "Content-Length: 2"), func(s *snap) { s.ContentLength, s.Body = 2, "hi" })},
		{name: "http10 expectation ignored", in: "GET /a HTTP/1.0\r\nExpect: something\r\n\r\n",
			want: with(get("GET", "/a", "Expect: something"), func(s *snap) { s.ProtoMinor, s.KeepAlive = 0, false })},
		{name: "body exactly at limit", in: "PUT /p HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcd", maxBd: 4,
			want: with(get("PUT", "/p", "Host: h", "Content-Length: 4"), func(s *snap) { s.ContentLength, s.Body = 4, "abcd" })},
	}
}

// parseWhole parses in with a fresh Request and checks it is consumed entirely.
func parseWhole(t *testing.T, c validCase) snap {
	t.Helper()
	r := Request{MaxHeaderBytes: c.maxHead, MaxBodyBytes: c.maxBd}
	n, err := r.Parse([]byte(c.in))
	if err != nil || n != len(c.in) {
		t.Fatalf("Parse = %d, %v; want %d, nil", n, err, len(c.in))
	}
	return snapshot(&r)
}

func TestParseValid(t *testing.T) {
	for _, c := range validCases() {
		t.Run(c.name, func(t *testing.T) {
			if got := parseWhole(t, c); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}
