package broker_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/workkit/realtime/broker"
)

// TestExpectContinue: a client that waits for "100 Continue" before its
// body gets it, then the answer.
func TestExpectContinue(t *testing.T) {
	s := startServer(t, nil)
	c := s.dial()
	defer c.Close()
	body := `{"event":"e","data":1}`
	io.WriteString(c, fmt.Sprintf("POST /publish/exp HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: %d\r\n%s\r\n",
		len(body), bearerHeader(pubToken(t))))
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("interim response %q (%v), want 100 Continue", line, err)
	}
	if blank, _ := br.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("after 100 Continue: %q", blank)
	}
	io.WriteString(c, body)
	if r := readResponse(t, br); r.status != 200 {
		t.Fatalf("publish after 100 Continue: %d %s", r.status, r.body)
	}
}

// TestHTTPConformance: HTTP/1.1 without Host is 400, an unknown
// expectation 417, and event data that is not UTF-8 400.
func TestHTTPConformance(t *testing.T) {
	s := startServer(t, nil)
	pub := bearerHeader(pubToken(t))
	bad := "{\"event\":\"e\",\"data\":\"caf\xe9\"}" // Latin-1, not UTF-8
	cases := []struct {
		name, req string
		status    int
	}{
		{"no Host", "GET /healthz HTTP/1.1\r\n\r\n", 400},
		{"HTTP/1.0 needs no Host", "GET /healthz HTTP/1.0\r\n\r\n", 200},
		{"unknown expectation", "GET /healthz HTTP/1.1\r\nHost: t\r\nExpect: magic\r\n\r\n", 417},
		{"data not UTF-8", post("/publish/u", bad, pub), 400},
	}
	for _, c := range cases {
		if r := s.do(c.req); r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.status)
		}
	}
	r := s.do(post("/publish", "[{\"channel\":\"u\",\"event\":\"e\",\"data\":\"\xff\"},{\"channel\":\"u\",\"event\":\"e\",\"data\":1}]", pub))
	var items []map[string]any
	mustJSON(t, r.body, &items)
	if r.status != 200 || len(items) != 2 || items[0]["error"] == nil || items[1]["id"] == nil {
		t.Fatalf("batch with one non-UTF-8 item: %d %s", r.status, r.body)
	}
}

// TestCORSWildcard: "*" lets any origin read without credentials, never
// echoes "null"; a listed origin is echoed with credentials.
func TestCORSWildcard(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.CORSOrigins = []string{"https://app.example", "*"} })
	sub := bearerHeader(subToken(t))
	cases := []struct {
		origin, allow, creds string
	}{
		{"https://evil.example", "*", ""},
		{"null", "", ""},
		{"https://app.example", "https://app.example", "true"},
	}
	for _, c := range cases {
		r := s.do(get("/poll/cors", sub, "Origin: "+c.origin+"\r\n"))
		if got := r.header.Get("Access-Control-Allow-Origin"); got != c.allow {
			t.Errorf("origin %s: Allow-Origin %q, want %q", c.origin, got, c.allow)
		}
		if got := r.header.Get("Access-Control-Allow-Credentials"); got != c.creds {
			t.Errorf("origin %s: Allow-Credentials %q, want %q", c.origin, got, c.creds)
		}
	}
	if _, err := broker.New(withCORS("null"), nil, nil); err == nil {
		t.Error(`--cors-origins null accepted`)
	}
}

func withCORS(origins ...string) broker.Config {
	cfg := broker.DefaultConfig()
	cfg.JWTSecret, cfg.CORSOrigins = testSecret, origins
	return cfg
}

// TestChannelInfoEscapesName: with a --channel-pattern that allows quotes
// and braces, a channel name cannot inject fields into /channels JSON.
func TestChannelInfoEscapesName(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.ChannelPattern = `^[a-z0-9",:{}]{1,64}$` })
	name := `a","subscribers":999,"x":{"`
	s.publish(url.PathEscape(name), "e", "1")
	r := s.do(get("/channels/"+url.PathEscape(name), bearerHeader(pubToken(t))))
	var info map[string]any
	if err := json.Unmarshal([]byte(r.body), &info); err != nil || info["channel"] != name || info["subscribers"] != 0.0 {
		t.Fatalf("channel info %d %s (%v)", r.status, r.body, err)
	}
}

// TestNonCanonicalSignatureRefused: a signature spelled with other
// base64url padding bits decodes to the same bytes under lax decoding; it
// must be refused (SPEC 4).
func TestNonCanonicalSignatureRefused(t *testing.T) {
	s := startServer(t, nil)
	tok := subToken(t)
	dot := strings.LastIndexByte(tok, '.')
	sig := tok[dot+1:]
	alt := []byte(sig)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, alt[len(alt)-1])
	alt[len(alt)-1] = alphabet[last^1] // an HS256 signature (43 chars) ends in 2 padding bits
	if a, b := mustB64(t, sig), mustB64(t, string(alt)); a != b {
		t.Fatalf("test is wrong: %q and %q differ when decoded", sig, alt)
	}
	if _, r := s.trySubscribe("c", bearerHeader(tok[:dot+1]+string(alt))); r.status != 401 {
		t.Fatalf("non-canonical signature: %d, want 401", r.status)
	}
	s.subscribe("c", bearerHeader(tok)) // the canonical one still works
}

func mustB64(t *testing.T, s string) string {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
