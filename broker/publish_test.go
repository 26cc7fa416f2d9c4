package broker_test

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workkit/realtime/broker"
)

func TestPublishValidation(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.Loop.MaxBodyBytes = 1024; c.Loop.MaxHeaderBytes = 2048 })
	pub := bearerHeader(pubToken(t))
	cases := []struct {
		name, req string
		status    int
		msg       string
	}{
		{"ok", post("/publish/a", `{"event":"x","data":{"a":1}}`, pub), 200, ""},
		{"null data", post("/publish/a", `{"event":"x","data":null}`, pub), 200, ""},
		{"no data", post("/publish/a", `{"event":"x"}`, pub), 400, "data must not be undefined"},
		{"invalid json", post("/publish/a", `{"event":"x","data":}`, pub), 400, "invalid JSON"},
		{"trailing garbage", post("/publish/a", `{"event":"x","data":1} x`, pub), 400, "invalid JSON"},
		{"empty body", post("/publish/a", ``, pub), 400, "invalid JSON"},
		{"array", post("/publish/a", `[1]`, pub), 400, "body must be a JSON object"},
		{"no event", post("/publish/a", `{"data":1}`, pub), 400, "event is required"},
		{"event not string", post("/publish/a", `{"event":1,"data":1}`, pub), 400, "event must be a string"},
		{"event chars", post("/publish/a", `{"event":"a b","data":1}`, pub), 400, "event must match ^[a-zA-Z0-9:_.-]{1,64}$"},
		{"event too long", post("/publish/a", `{"event":"`+strings.Repeat("e", 65)+`","data":1}`, pub), 400, "event must match ^[a-zA-Z0-9:_.-]{1,64}$"},
		{"event reserved", post("/publish/a", `{"event":"realtime.reset","data":1}`, pub), 400, "event names starting with realtime. are reserved"},
		{"bad channel", post("/publish/a%20b", `{"event":"x","data":1}`, pub), 400, "invalid channel name"},
		{"get", get("/publish/a", pub), 405, "method not allowed"},
		{"no length", "POST /publish/a HTTP/1.1\r\nHost: t\r\n" + pub + "\r\n", 411, "Content-Length required"},
		{"chunked", "POST /publish/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n" + pub + "\r\n0\r\n\r\n", 411, "length required"},
		{"too large", post("/publish/a", `{"event":"x","data":"`+strings.Repeat("z", 1100)+`"}`, pub), 413, "request body too large"},
		{"head too large", post("/publish/a", `{"event":"x","data":1}`, pub, "X-Big: "+strings.Repeat("h", 2100)+"\r\n"), 431, "request header too large"},
		{"malformed", "POST /publish/a HTTP/1.1\r\nBad Header\r\n\r\n", 400, "malformed header line"},
		{"no token", post("/publish/a", `{"event":"x","data":1}`), 401, "unauthorized"},
		{"bad token", post("/publish/a", `{"event":"x","data":1}`, bearerHeader("nope")), 401, "unauthorized"},
		{"subscriber token", post("/publish/a", `{"event":"x","data":1}`, bearerHeader(subToken(t))), 403, "forbidden"},
		{"other channel", post("/publish/a", `{"event":"x","data":1}`, bearerHeader(token(t, nil, []string{"b*"}, time.Hour))), 403, "forbidden"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.do(c.req)
			if r.status != c.status {
				t.Fatalf("status %d (%s), want %d", r.status, r.body, c.status)
			}
			if c.status == 200 {
				var p published
				mustJSON(t, r.body, &p)
				if p.ID == 0 {
					t.Fatalf("no id in %s", r.body)
				}
				return
			}
			var e struct{ Error string }
			mustJSON(t, r.body, &e)
			if e.Error != c.msg {
				t.Fatalf("error %q, want %q", e.Error, c.msg)
			}
		})
	}
}

func TestPublishKey(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.PublishKey = "k3y" })
	if r := s.do(post("/publish/a", `{"event":"x","data":1}`, bearerHeader("k3y"))); r.status != 200 {
		t.Fatalf("publish key: %d %s", r.status, r.body)
	}
	if r := s.do(post("/publish/a", `{"event":"x","data":1}`, bearerHeader("k3y-not"))); r.status != 401 {
		t.Fatalf("wrong key: %d %s", r.status, r.body)
	}
}

// TestPipelinedPublishes sends many publishes in one write on a keep-alive
// connection: they are answered in order with consecutive ids.
func TestPipelinedPublishes(t *testing.T) {
	s := startServer(t, nil)
	st := s.subscribe("pipe")
	const n = 50
	var reqs strings.Builder
	for i := 0; i < n; i++ {
		reqs.WriteString(post("/publish/pipe", fmt.Sprintf(`{"event":"e","data":%d}`, i), bearerHeader(pubToken(t))))
	}
	c := s.dial()
	defer c.Close()
	if _, err := io.WriteString(c, reqs.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var first uint64
	for i := 0; i < n; i++ {
		r := readResponse(t, br)
		var p published
		mustJSON(t, r.body, &p)
		if i == 0 {
			first = p.ID
		}
		if r.status != 200 || p.ID != first+uint64(i) {
			t.Fatalf("response %d: %d %s, want id %d", i, r.status, r.body, first+uint64(i))
		}
	}
	for i := 0; i < n; i++ {
		if got, want := st.nextEvent(), frame(first+uint64(i), "e", fmt.Sprint(i)); got != want {
			t.Fatalf("event %d: %q, want %q", i, got, want)
		}
	}
}

// TestRequestsSplitAcrossWrites feeds a publish one byte at a time.
func TestRequestsSplitAcrossWrites(t *testing.T) {
	s := startServer(t, nil)
	raw := post("/publish/slow", `{"event":"e","data":"split"}`, bearerHeader(pubToken(t)))
	c := s.dial()
	defer c.Close()
	for i := 0; i < len(raw); i++ {
		if _, err := c.Write([]byte{raw[i]}); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if r := readResponse(t, bufio.NewReader(c)); r.status != 200 {
		t.Fatalf("split publish: %d %s", r.status, r.body)
	}
}

// TestConcurrentPublishers checks that ids are unique and consecutive and
// that every subscriber sees every event once, in id order.
func TestConcurrentPublishers(t *testing.T) {
	s := startServer(t, nil)
	const subscribers, publishers, each = 5, 8, 40
	streams := make([]*stream, subscribers)
	for i := range streams {
		streams[i] = s.subscribe("busy")
	}
	s.waitSubscribers("busy", subscribers)
	ids := make(chan uint64, publishers*each)
	var wg sync.WaitGroup
	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := s.dial()
			defer c.Close()
			br := bufio.NewReader(c)
			for i := 0; i < each; i++ {
				io.WriteString(c, post("/publish/busy", fmt.Sprintf(`{"event":"p%d","data":%d}`, p, i), bearerHeader(pubToken(t))))
				r := readResponse(t, br)
				var pb published
				mustJSON(t, r.body, &pb)
				if pb.Delivered != subscribers {
					t.Errorf("delivered %d, want %d", pb.Delivered, subscribers)
				}
				ids <- pb.ID
			}
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[uint64]bool{}
	var lo, hi uint64
	for id := range ids {
		if seen[id] {
			t.Fatalf("id %d issued twice", id)
		}
		seen[id] = true
		if lo == 0 || id < lo {
			lo = id
		}
		hi = max(hi, id)
	}
	if hi-lo+1 != publishers*each {
		t.Fatalf("ids %d..%d are not consecutive over %d publishes", lo, hi, publishers*each)
	}
	for _, st := range streams {
		for id := lo; id <= hi; id++ {
			f := st.nextEvent()
			if !strings.HasPrefix(f, fmt.Sprintf("id: %d\n", id)) {
				t.Fatalf("got %q, want id %d", f, id)
			}
		}
	}
}

func TestHealthz(t *testing.T) {
	s := startServer(t, nil)
	r := s.do(get("/healthz"))
	if r.status != 200 || r.body != "ok\n" {
		t.Fatalf("healthz: %d %q", r.status, r.body)
	}
}
