package httpx

import (
	"net/url"
	"strings"
	"testing"
)

func mustParse(t *testing.T, r *Request, in string) {
	t.Helper()
	if n, err := r.Parse([]byte(in)); err != nil || n != len(in) {
		t.Fatalf("Parse = %d, %v", n, err)
	}
}

func TestHeaderLookup(t *testing.T) {
	var r Request
	mustParse(t, &r, "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nx-dup: 1\r\nX-DUP: 2\r\n\r\n")
	if got := r.Header("host"); string(got) != "a" {
		t.Errorf("Header(host) = %q", got)
	}
	if got := r.Header("X-Dup"); string(got) != "1" {
		t.Errorf("Header(X-Dup) = %q, want the first", got)
	}
	if got := r.Header("X-Empty"); got == nil || len(got) != 0 {
		t.Errorf("Header(X-Empty) = %#v, want non-nil empty", got)
	}
	if got := r.Header("Missing"); got != nil {
		t.Errorf("Header(Missing) = %#v, want nil", got)
	}
}

func TestHasToken(t *testing.T) {
	var r Request
	mustParse(t, &r, "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive ,\tUpgrade\r\nConnection: x-close\r\n\r\n")
	for tok, want := range map[string]bool{"upgrade": true, "KEEP-ALIVE": true, "x-close": true, "close": false, "": false} {
		if got := r.HasToken("connection", tok); got != want {
			t.Errorf("HasToken(connection, %q) = %v", tok, got)
		}
	}
	if r.HasToken("Upgrade", "upgrade") {
		t.Error("HasToken on a missing header")
	}
}

func TestCookie(t *testing.T) {
	var r Request
	mustParse(t, &r, "GET / HTTP/1.1\r\nHost: h\r\nCookie: a=1; b=\"two\" ;c=;flag; Sid=upper\r\n"+
		"X-Cookie: z=9\r\ncookie: d=4; a=shadowed; q=\"\r\n\r\n")
	cases := []struct {
		name, want string
		ok         bool
	}{
		{"a", "1", true}, {"b", "two", true}, {"c", "", true}, {"d", "4", true},
		{"q", `"`, true}, {"Sid", "upper", true},
		{"sid", "", false}, {"flag", "", false}, {"z", "", false}, {"missing", "", false},
	}
	for _, c := range cases {
		got, ok := r.Cookie(c.name)
		if ok != c.ok || string(got) != c.want {
			t.Errorf("Cookie(%q) = %q, %v; want %q, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestQuery(t *testing.T) {
	var r Request
	mustParse(t, &r, "GET /p?a=1&b=x+y%21&a=2&e&emp=&bad=%zz&bad=ok&sp%20ace=1&semi=1;x=2&pl+us=3&&=v#f HTTP/1.1\r\nHost: h\r\n\r\n")
	cases := []struct {
		name, want string
		ok         bool
	}{
		{"a", "1", true}, {"b", "x y!", true}, {"e", "", true}, {"emp", "", true},
		{"bad", "ok", true}, {"sp ace", "1", true}, {"pl us", "3", true}, {"", "v", true},
		{"semi", "", false}, {"x", "", false}, {"missing", "", false}, {"sp%20ace", "", false},
	}
	for _, c := range cases {
		got, ok := r.Query(c.name)
		if ok != c.ok || string(got) != c.want {
			t.Errorf("Query(%q) = %q, %v; want %q, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// TestQueryMatchesNetURL compares Query with url.ParseQuery(...).Get on every name.
func TestQueryMatchesNetURL(t *testing.T) {
	queries := []string{
		"a=1&a=2", "x=%41%4a+b&y", "%zz=1&k=%zz&k=2", "k=1;j=2&k=3", "=&==&a==b", "+=%2B&%2B=+",
		"a%3db=c", "%e2%82%ac=euro&name=J%C3%BCrgen", "&&&", "a=%", "a=%4",
	}
	for _, q := range queries {
		checkQuery(t, q)
	}
}

func checkQuery(t *testing.T, q string) {
	t.Helper()
	r := Request{RawQuery: []byte(q)}
	vals, _ := url.ParseQuery(q)
	for name, list := range vals {
		got, ok := r.Query(name)
		if !ok || string(got) != list[0] {
			t.Errorf("query %q: Query(%q) = %q, %v; net/url %q", q, name, got, ok, list[0])
		}
	}
	for _, pair := range strings.Split(q, "&") {
		k, _, _ := strings.Cut(pair, "=")
		if name, err := url.QueryUnescape(k); err == nil && !vals.Has(name) {
			if got, ok := r.Query(name); ok {
				t.Errorf("query %q: Query(%q) = %q, net/url has none", q, name, got)
			}
		}
	}
}

// TestDecodedSlicesStayValid checks that decoding more values does not disturb the
// slices returned earlier (scratch may grow in between).
func TestDecodedSlicesStayValid(t *testing.T) {
	var r Request
	long := strings.Repeat("%41", 300)
	mustParse(t, &r, "GET /%41b?x=%41&y="+long+"&z=%42 HTTP/1.1\r\nHost: h\r\n\r\n")
	x, _ := r.Query("x")
	y, _ := r.Query("y")
	z, _ := r.Query("z")
	if string(r.Path) != "/Ab" || string(x) != "A" || string(y) != strings.Repeat("A", 300) || string(z) != "B" {
		t.Fatalf("got path %q x %q z %q", r.Path, x, z)
	}
	if cap(x) != len(x) || cap(r.Path) != len(r.Path) {
		t.Error("decoded slices are not capacity-capped")
	}
}

func TestResetKeepsLimits(t *testing.T) {
	r := Request{MaxHeaderBytes: 100, MaxBodyBytes: 3}
	mustParse(t, &r, "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
	r.Reset()
	if r.MaxHeaderBytes != 100 || r.MaxBodyBytes != 3 {
		t.Fatal("Reset changed the limits")
	}
	if r.Method != nil || r.Headers == nil || len(r.Headers) != 0 || r.ContentLength != -1 || r.Body != nil {
		t.Fatalf("Reset left state: %+v", snapshot(&r))
	}
	if r.hdrs[0].Name != nil {
		t.Error("Reset kept a reference into the old buffer")
	}
	if _, err := r.Parse([]byte("POST /a HTTP/1.1\r\nContent-Length: 4\r\n\r\n")); err != ErrBodyTooLarge {
		t.Fatalf("limit not applied after Reset: %v", err)
	}
}
