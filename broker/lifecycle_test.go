package broker_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/workkit/realtime/broker"
)

// Lifecycle webhooks (SPEC 3.9), on every topology: on Redis the
// transitions count every node's streams.

const eventsSecret = "events-secret-for-tests"

// hookEvent is one element of a webhook batch.
type hookEvent struct {
	Type    string `json:"type"`
	Channel string `json:"channel"`
	At      int64  `json:"at"`
}

// hookReceiver is a webhook endpoint: it checks each batch's signature,
// answers with status(n) for the n-th POST (from 0), and keeps the events
// of the batches it accepted.
type hookReceiver struct {
	t      testing.TB
	srv    *httptest.Server
	status func(n int) int

	mu       sync.Mutex
	posts    []time.Time // when each POST came
	accepted []hookEvent
}

func newHookReceiver(t testing.TB, status func(n int) int) *hookReceiver {
	r := &hookReceiver{t: t, status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	mac := hmac.New(sha256.New, []byte(eventsSecret))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if got := req.Header.Get("X-Realtime-Signature"); !hmac.Equal([]byte(got), []byte(want)) {
		r.t.Errorf("webhook signature %q, want %q", got, want)
	}
	var batch []hookEvent
	if err := json.Unmarshal(body, &batch); err != nil {
		r.t.Errorf("webhook body %q: %v", body, err)
	}
	r.mu.Lock()
	n := len(r.posts)
	r.posts = append(r.posts, time.Now())
	code := r.status(n)
	if code/100 == 2 {
		r.accepted = append(r.accepted, batch...)
	}
	r.mu.Unlock()
	w.WriteHeader(code)
}

// events returns "type channel" of every accepted event.
func (r *hookReceiver) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.accepted {
		out = append(out, e.Type+" "+e.Channel)
	}
	return out
}

func (r *hookReceiver) waitEvents(n int) []string {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(r.events()) < n {
		if time.Now().After(deadline) {
			r.t.Fatalf("webhook events %q, want %d", r.events(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r.events()
}

// TestLifecycleWebhooks: a channel's first stream sends channel.occupied,
// its last one leaving channel.vacated — a second stream in between sends
// nothing —, signed; a batch answered 500 is sent again within 5 s.
func TestLifecycleWebhooks(t *testing.T) {
	hook := newHookReceiver(t, func(n int) int {
		if n == 0 {
			return 500
		}
		return 200
	})
	s := startServer(t, func(c *broker.Config) { c.EventsURL, c.EventsSecret = hook.srv.URL, eventsSecret })
	start := time.Now().UnixMilli()
	a := s.subscribe("lc:room")
	b := s.subscribe("lc:room")
	s.waitSubscribers("lc:room", 2)
	if got := hook.waitEvents(1); len(got) != 1 || got[0] != "channel.occupied lc:room" {
		t.Fatalf("events %q, want one channel.occupied", got)
	}
	a.c.Close()
	s.waitSubscribers("lc:room", 1)
	b.c.Close()
	if got := hook.waitEvents(2); len(got) != 2 || got[1] != "channel.vacated lc:room" {
		t.Fatalf("events %q, want occupied then vacated", got)
	}
	hook.mu.Lock()
	first, second, at := hook.posts[0], hook.posts[1], hook.accepted[0].At
	hook.mu.Unlock()
	if d := second.Sub(first); d > 5*time.Second {
		t.Fatalf("retry after the 500 came %v later, want within 5 s", d)
	}
	if at < start-1000 || at > time.Now().UnixMilli() {
		t.Fatalf("at %d, want a Unix ms time of this test", at)
	}
	waitMetric(t, s, "realtime_lifecycle_post_failures_total", 1)
	waitMetric(t, s, `realtime_lifecycle_events_total{result="sent"}`, 2)
}

// TestLifecycleDropsAreCounted: with the receiver failing, what exceeds
// --events-queue is dropped and counted; the rest is sent once it
// recovers. The streams are on one node: each node has its own queue.
func TestLifecycleDropsAreCounted(t *testing.T) {
	var mu sync.Mutex
	down := true
	hook := newHookReceiver(t, func(int) int {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return 503
		}
		return 200
	})
	s := startServer(t, func(c *broker.Config) {
		c.EventsURL, c.EventsSecret, c.EventsQueue = hook.srv.URL, eventsSecret, 2
	})
	for _, ch := range []string{"lc:a", "lc:b", "lc:c", "lc:d", "lc:e"} {
		s.node0().subscribe(ch)
		s.waitSubscribers(ch, 1)
	}
	waitMetric(t, s, `realtime_lifecycle_events_total{result="dropped"}`, 3)
	mu.Lock()
	down = false
	mu.Unlock()
	if got := hook.waitEvents(2); len(got) != 2 {
		t.Fatalf("events after recovery %q, want the 2 held", got)
	}
}

// waitMetric waits until the server's metric reads want.
func waitMetric(t testing.TB, s *server, sample string, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.metric(sample) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", sample, s.metric(sample), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
