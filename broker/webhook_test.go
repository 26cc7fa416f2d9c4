package broker_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/workkit/realtime/broker"
)

// app plays the application behind --auth webhook: it allows the session
// cookie "ok" on channels other than "forbidden", answers 401 without a
// cookie, and is slow on the channel "slow".
func app(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		ch := r.URL.Query().Get("channel")
		c, err := r.Cookie("session")
		switch {
		case ch == "slow":
			time.Sleep(2 * time.Second)
			w.WriteHeader(200)
		case err != nil && r.Header.Get("Authorization") != "Bearer app-token":
			w.WriteHeader(401)
		case ch == "forbidden":
			w.WriteHeader(403)
		case err == nil && c.Value != "ok":
			w.WriteHeader(403)
		default:
			fmt.Fprint(w, `{"principal":"u1"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestWebhookAuthorizer(t *testing.T) {
	upstream, calls := app(t)
	s := startServer(t, func(c *broker.Config) {
		c.Auth = "webhook"
		c.AuthURL = upstream.URL + "/auth"
		c.AuthTimeout = 500 * time.Millisecond
	})
	ok := "Cookie: session=ok\r\nAuthorization: none\r\n"
	cases := []struct {
		name, channel, headers string
		status                 int
	}{
		{"allow by cookie", "room", ok, 200},
		{"allow by authorization header", "room", "Authorization: Bearer app-token\r\n", 200},
		{"deny", "forbidden", ok, 403},
		{"bad session", "room", "Cookie: session=bad\r\nAuthorization: none\r\n", 403},
		{"no credential: 401 passes through", "room", "Authorization: none\r\n", 401},
		{"a timeout is a failure: 503, never an allow", "slow", ok, 503},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, r := s.trySubscribe(c.channel, c.headers)
			if r.status != c.status {
				t.Fatalf("status %d (%s), want %d", r.status, r.body, c.status)
			}
			if st != nil {
				p := s.publish(c.channel, "e", "1")
				if got := st.nextEvent(); got != frame(p.ID, "e", "1") {
					t.Fatalf("got %q", got)
				}
			}
		})
	}
	// A long-poll authorized by the webhook parks and is woken.
	c := s.dial()
	defer c.Close()
	io.WriteString(c, get("/poll/room?wait=10", ok))
	time.Sleep(200 * time.Millisecond)
	p := s.publish("room", "late", "2")
	r := readResponse(t, bufio.NewReader(c))
	var res pollResult
	mustJSON(t, r.body, &res)
	if r.status != 200 || len(res.Events) != 1 || res.Events[0].ID != p.ID {
		t.Fatalf("webhook long-poll: %d %s", r.status, r.body)
	}
	if calls.Load() < int32(len(cases)) {
		t.Fatalf("the application was called %d times", calls.Load())
	}
}

// TestWebhookNeverBlocksTheReactor: while a slow authorization is pending,
// other requests are served.
func TestWebhookNeverBlocksTheReactor(t *testing.T) {
	upstream, _ := app(t)
	s := startServer(t, func(c *broker.Config) {
		c.Auth = "webhook"
		c.AuthURL = upstream.URL + "/auth"
		c.AuthTimeout = 5 * time.Second
	})
	slow := make(chan response, 8)
	for i := 0; i < 8; i++ {
		go func() {
			c := s.dial()
			defer c.Close()
			io.WriteString(c, get("/sse/slow", "Cookie: session=ok\r\n"))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				slow <- response{}
				return
			}
			slow <- response{status: resp.StatusCode}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	for i := 0; i < 20; i++ {
		s.publish("busy", "e", "1")
		select {
		case r := <-slow:
			t.Fatalf("a slow authorization finished (%d) before the publishes: they were blocked", r.status)
		default:
		}
	}
	for i := 0; i < 8; i++ {
		if r := <-slow; r.status != 200 {
			t.Fatalf("slow authorization: %d", r.status)
		}
	}
}

func TestWebhookUpstreamDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	s := startServer(t, func(c *broker.Config) {
		c.Auth = "webhook"
		c.AuthURL = "http://" + addr + "/auth"
	})
	if _, r := s.trySubscribe("room", "Cookie: session=ok\r\nAuthorization: none\r\n"); r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("upstream down: %d %s, want 503 with Retry-After", r.status, r.body)
	}
	// Publishing does not go through the webhook: it needs a JWT or the key.
	if r := s.do(post("/publish/room", `{"event":"e","data":1}`, bearerHeader(pubToken(t)))); r.status != 200 {
		t.Fatalf("publish under webhook auth: %d %s", r.status, r.body)
	}
}
