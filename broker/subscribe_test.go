package broker_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/workkit/realtime/broker"
)

func TestSubscribeHeadAndLiveEvents(t *testing.T) {
	s := startServer(t, nil)
	st := s.subscribe("run:42")
	want := map[string]string{
		"Content-Type":      "text/event-stream; charset=utf-8",
		"Cache-Control":     "no-cache, no-transform",
		"X-Accel-Buffering": "no",
	}
	for k, v := range want {
		if got := st.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"Content-Length", "Transfer-Encoding"} {
		if v := st.header.Get(k); v != "" {
			t.Errorf("stream has %s: %q", k, v)
		}
	}
	s.waitSubscribers("run:42", 1)
	p := s.publish("run:42", "run.stage", `{ "stage" : "ai_verify", "progress": 40 }`)
	if p.Delivered != 1 {
		t.Fatalf("delivered %d, want 1", p.Delivered)
	}
	if got, want := st.nextEvent(), frame(p.ID, "run.stage", `{"stage":"ai_verify","progress":40}`); got != want {
		t.Fatalf("frame %q, want %q", got, want)
	}
}

func TestSubscribeErrors(t *testing.T) {
	s := startServer(t, nil)
	sub := bearerHeader(subToken(t))
	cases := []struct {
		name, req string
		status    int
		header    [2]string
	}{
		{"post", post("/sse/a", "{}", sub), 405, [2]string{"Allow", "GET"}},
		{"bad char", get("/sse/a%20b", sub), 400, [2]string{}},
		{"slash", get("/sse/a/b", sub), 400, [2]string{}},
		{"empty", get("/sse/", sub), 400, [2]string{}},
		{"too long", get("/sse/"+strings.Repeat("x", 129), sub), 400, [2]string{}},
		{"no token", get("/sse/a"), 401, [2]string{"WWW-Authenticate", "Bearer"}},
		{"unknown path", get("/nope", sub), 404, [2]string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.do(c.req)
			if r.status != c.status {
				t.Fatalf("status %d (%s), want %d", r.status, r.body, c.status)
			}
			if c.header[0] != "" && r.header.Get(c.header[0]) != c.header[1] {
				t.Fatalf("%s = %q, want %q", c.header[0], r.header.Get(c.header[0]), c.header[1])
			}
			var e struct{ Error string }
			mustJSON(t, r.body, &e)
			if e.Error == "" || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("error body %q", r.body)
			}
		})
	}
	// 128 characters is the longest valid name; percent-decoding happens first.
	s.subscribe(strings.Repeat("y", 128))
	s.subscribe("team%3A42")
}

func TestSubscribeAuthorization(t *testing.T) {
	s := startServer(t, nil)
	signed := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	exp := time.Now().Add(time.Hour).Unix()
	cases := []struct {
		name   string
		header string
		status int
	}{
		{"exact", bearerHeader(token(t, []string{"team:42:runs"}, nil, time.Hour)), 200},
		{"prefix", bearerHeader(token(t, []string{"team:42:*"}, nil, time.Hour)), 200},
		{"star", bearerHeader(token(t, []string{"*"}, nil, time.Hour)), 200},
		{"cookie", "Cookie: a=b; realtime_token=" + subToken(t) + "\r\n", 200},
		{"other channel", bearerHeader(token(t, []string{"team:43:*"}, nil, time.Hour)), 403},
		{"publish claim only", bearerHeader(pubToken(t)), 403},
		{"expired", bearerHeader(token(t, []string{"*"}, nil, -time.Minute)), 401},
		{"garbage", bearerHeader("not.a.jwt"), 401},
		{"wrong secret", bearerHeader(signed(jwt.SigningMethodHS256, []byte("other"), jwt.MapClaims{"exp": exp, "channels": "*"})), 401},
		{"no exp", bearerHeader(signed(jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"channels": "*"})), 401},
		{"HS384 mismatch", bearerHeader(signed(jwt.SigningMethodHS384, []byte(testSecret), jwt.MapClaims{"exp": exp, "channels": "*"})), 401},
		{"alg none", bearerHeader(signed(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"exp": exp, "channels": "*"})), 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, r := s.trySubscribe("team:42:runs", c.header)
			if r.status != c.status {
				t.Fatalf("status %d (%s), want %d", r.status, r.body, c.status)
			}
			if st != nil {
				st.c.Close()
			}
			if c.status == 401 && r.header.Get("WWW-Authenticate") != "Bearer" {
				t.Fatal("401 without WWW-Authenticate: Bearer")
			}
		})
	}
	// The token query parameter is the last place looked at.
	st, r := s.trySubscribe("team:42:runs?token="+subToken(t), "X-None: 1\r\n", "Authorization: x\r\n")
	if r.status != 200 {
		t.Fatalf("token query: %d %s", r.status, r.body)
	}
	st.c.Close()
}

func TestAuthNone(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.Auth = "none"; c.JWTSecret = "" })
	st := s.subscribe("open", "Authorization: none\r\n")
	r := s.do(post("/publish/open", `{"event":"e","data":1}`))
	if r.status != 200 {
		t.Fatalf("publish without credentials under --auth none: %d %s", r.status, r.body)
	}
	var p published
	mustJSON(t, r.body, &p)
	if got := st.nextEvent(); got != frame(p.ID, "e", "1") {
		t.Fatalf("got %q", got)
	}
}

func TestSubscriberCap(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.Channel.MaxSubscribers = 2 }).node0() // the cap is each node's
	a := s.subscribe("capped")
	s.subscribe("capped")
	_, r := s.trySubscribe("capped")
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("third subscriber: %d Retry-After=%q, want 429 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	s.subscribe("other") // the cap is per channel
	a.c.Close()
	waitFor(t, "the closed subscriber to leave", func() bool {
		return s.subscribers("capped") == 1
	})
	s.subscribe("capped")
}

func TestMaxConns(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.Loop.MaxConns = 3 }).node0() // each node's
	for i := 0; i < 3; i++ {
		s.subscribe(fmt.Sprint("c", i))
	}
	_, r := s.trySubscribe("c9")
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("past max conns: %d %s, want 503 with Retry-After", r.status, r.body)
	}
}

// waitFor polls cond for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
