package httpx

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestStatusText(t *testing.T) {
	for _, code := range []int{101, 200, 204, 304, 400, 401, 403, 404, 405, 408, 411, 413, 429, 431, 500, 501, 503, 505} {
		if StatusText(code) == "" {
			t.Errorf("StatusText(%d) is empty", code)
		}
	}
	for code := 100; code < 600; code++ {
		if got := StatusText(code); got != "" && got != http.StatusText(code) {
			t.Errorf("StatusText(%d) = %q, net/http says %q", code, got, http.StatusText(code))
		}
	}
}

func TestAppendHeaders(t *testing.T) {
	var b []byte
	b = AppendStatusLine(b, 404)
	b = AppendStatusLine(b, 599)
	b = AppendHeader(b, "X-A", "v\r\nInjected: 1")
	b = AppendHeaderBytes(b, "X-B", []byte("w\n"))
	b = AppendHeaderInt(b, "X-C", -42)
	want := "HTTP/1.1 404 Not Found\r\nHTTP/1.1 599 \r\nX-A: v  Injected: 1\r\nX-B: w \r\nX-C: -42\r\n"
	if string(b) != want {
		t.Errorf("got %q\nwant %q", b, want)
	}
}

func TestAppendResponse(t *testing.T) {
	cases := []struct {
		code      int
		keepAlive bool
		ct        string
		body      string
		extra     []string
		want      string
	}{
		{200, true, "text/plain", "hi", nil,
			"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"},
		{503, false, "", "", []string{"Retry-After", "1", "Cache-Control", "no-store"},
			"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\nRetry-After: 1\r\nCache-Control: no-store\r\n\r\n"},
		{204, true, "", "dropped", nil, "HTTP/1.1 204 No Content\r\n\r\n"},
		{304, false, "text/plain", "dropped", nil, "HTTP/1.1 304 Not Modified\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"},
	}
	for _, c := range cases {
		got := AppendResponse([]byte("prefix"), c.code, c.keepAlive, c.ct, []byte(c.body), c.extra...)
		if string(got) != "prefix"+c.want {
			t.Errorf("%d: got %q\nwant %q", c.code, got, c.want)
		}
	}
}

func TestAppendResponseOddExtraPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	AppendResponse(nil, 200, true, "", nil, "X-Lonely")
}

// TestAppendErrorReadResponse reads AppendError's output back with net/http.
func TestAppendErrorReadResponse(t *testing.T) {
	msgs := []string{"channel not found", `quote " back \ slash`, "ctl \x00\x1f\t\n", "line\u2028sep\u2029", "bad \xff utf8", ""}
	for _, msg := range msgs {
		out := AppendError(nil, 404, false, msg, "X-Request-Id", "r1")
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
		if err != nil {
			t.Fatalf("%q: %v", msg, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 404 || !resp.Close || resp.Header.Get("X-Request-Id") != "r1" ||
			resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%q: %v %+v", msg, err, resp)
		}
		var v struct{ Error string }
		if err := json.Unmarshal(body, &v); err != nil || v.Error != strings.ToValidUTF8(msg, "\uFFFD") {
			t.Errorf("%q: body %s, decoded %q, %v", msg, body, v.Error, err)
		}
		if !strings.HasPrefix(string(body), `{"error":"`) {
			t.Errorf("body %s", body)
		}
	}
}

// encodingJSON is what encoding/json writes for s with HTML escaping off.
func encodingJSON(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func checkJSONString(t *testing.T, s string) {
	t.Helper()
	got := AppendJSONString([]byte("x"), s)
	if want := "x" + encodingJSON(s); string(got) != want {
		t.Errorf("AppendJSONString(%q) = %s, want %s", s, got, want)
	}
	if n := jsonStringLen(s); n != len(got)-1 {
		t.Errorf("jsonStringLen(%q) = %d, want %d", s, n, len(got)-1)
	}
}

func TestAppendJSONString(t *testing.T) {
	var all strings.Builder
	for c := range 0x80 {
		all.WriteByte(byte(c))
	}
	for _, s := range []string{"", "plain", all.String(), "<&>", "é€😀", "\u2028\u2029", "\xff\xfe", "a\xe2\x82", "\xed\xa0\x80"} {
		checkJSONString(t, s)
	}
}

func FuzzJSONString(f *testing.F) {
	f.Add("hello \"world\"\n")
	f.Add("\xe2\x80\xa8\xff")
	f.Fuzz(func(t *testing.T, s string) {
		checkJSONString(t, s)
		if !json.Valid(AppendJSONString(nil, s)) || !utf8.Valid(AppendJSONString(nil, s)) {
			t.Errorf("invalid JSON for %q", s)
		}
	})
}
