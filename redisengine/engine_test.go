package redisengine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workkit/realtime/channel"
	"github.com/workkit/realtime/internal/redisproc"
	"github.com/workkit/realtime/ring"
)

// recorder is a Sink that keeps a copy of every frame it gets.
type recorder struct {
	mu     sync.Mutex
	frames []string
}

func (r *recorder) Send(f *ring.Frame) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, string(f.Bytes()))
	f.Release()
	return true
}

func (r *recorder) Replay(f *ring.Frame) bool { return r.Send(f) }

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.frames...)
}

// newEngine starts an engine on url with its own key prefix (tests of one
// package share Redis servers), runs it for the test, and waits until it
// is ready.
func newEngine(t testing.TB, url, prefix string, mutate func(*Config)) *Engine {
	t.Helper()
	cfg := DefaultConfig()
	cfg.URL, cfg.Prefix = url, prefix
	cfg.Channel.PollTTL = time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { e.Run(stop); close(done) }()
	t.Cleanup(func() { close(stop); <-done })
	waitUntil(t, "the engine to be ready", 10*time.Second, e.Ready)
	return e
}

func waitUntil(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// publish publishes through e and waits for the answer.
func publish(t testing.TB, e *Engine, ch, event, data string) channel.Published {
	t.Helper()
	type result struct {
		p   channel.Published
		err error
	}
	done := make(chan result, 1)
	p, err := e.Publish([]byte(ch), []byte(event), []byte(data), func(p channel.Published, err error) { done <- result{p, err} })
	if err == channel.ErrPending {
		r := <-done
		p, err = r.p, r.err
	}
	if err != nil {
		t.Fatalf("publish %s: %v", ch, err)
	}
	return p
}

// subscribe subscribes rec to ch through e and waits until it is done.
func subscribe(t testing.TB, e *Engine, ch string, rec *recorder, o channel.Open) *channel.Subscription {
	t.Helper()
	type result struct {
		s   *channel.Subscription
		err error
	}
	done := make(chan result, 1)
	s, err := e.Subscribe([]byte(ch), rec, o, func(s *channel.Subscription, err error) { done <- result{s, err} })
	if err == channel.ErrPending {
		r := <-done
		s, err = r.s, r.err
	}
	if err != nil {
		t.Fatalf("subscribe %s: %v", ch, err)
	}
	return s
}

func frame(id uint64, event, data string) string {
	return fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", id, event, data)
}

// waitFrames waits until rec holds n frames and returns them.
func waitFrames(t testing.TB, rec *recorder, n int) []string {
	t.Helper()
	waitUntil(t, fmt.Sprintf("%d frames", n), 10*time.Second, func() bool { return len(rec.got()) >= n })
	return rec.got()
}

// TestTwoNodesShareAChannel: events published on either node reach a
// subscriber of the other, with consecutive ids, each once.
func TestTwoNodesShareAChannel(t *testing.T) {
	r := redisproc.StartT(t, redisproc.Options{})
	a, b := newEngine(t, r.URL(), "two:", nil), newEngine(t, r.URL(), "two:", nil)
	rec := &recorder{}
	subscribe(t, b, "c", rec, channel.Open{})
	var want []string
	var prev uint64
	for i := 0; i < 20; i++ {
		node := a
		if i%2 == 1 {
			node = b
		}
		p := publish(t, node, "c", "e", fmt.Sprint(i))
		if prev != 0 && p.ID != prev+1 {
			t.Fatalf("id %d after %d: not consecutive", p.ID, prev)
		}
		prev = p.ID
		want = append(want, frame(p.ID, "e", fmt.Sprint(i)))
	}
	if got := waitFrames(t, rec, 20); strings.Join(got, "") != strings.Join(want, "") {
		t.Fatalf("subscriber on the other node got\n%q\nwant\n%q", got, want)
	}
}

// TestResumeAheadOfTheMirror: a client resumes on a node whose mirror has
// not got the client's last event yet (pub/sub reached the client's old
// node first). The node reads the history before answering: no reset, no
// event twice — and the node's other subscribers get the event too.
func TestResumeAheadOfTheMirror(t *testing.T) {
	r := redisproc.StartT(t, redisproc.Options{})
	a, b := newEngine(t, r.URL(), "ahead:", nil), newEngine(t, r.URL(), "ahead:", nil)
	live := &recorder{}
	subscribe(t, b, "c", live, channel.Open{})
	p1 := publish(t, a, "c", "e", "1")
	waitFrames(t, live, 1)

	// Event 2 reaches Redis but not b's pub/sub connection (as if it were
	// still on its way).
	ev := a.publishCall("c", []byte("e"), []byte("2"))
	ev.ps = "ahead:nowhere"
	res := a.runPublish(context.Background(), a.cmd(), []pubEvent{ev})
	if res[0].err != nil {
		t.Fatal(res[0].err)
	}
	id2, _ := res[0].v[0].AsInt64()
	if uint64(id2) != p1.ID+1 {
		t.Fatalf("injected id %d, want %d", id2, p1.ID+1)
	}

	resumed := &recorder{}
	subscribe(t, b, "c", resumed, channel.Open{Last: uint64(id2), HasLast: true})
	p3 := publish(t, a, "c", "e", "3")
	if got := waitFrames(t, resumed, 1); got[0] != frame(p3.ID, "e", "3") {
		t.Fatalf("resumed client got %q first, want only event %d", got, p3.ID)
	}
	want := frame(p1.ID, "e", "1") + frame(uint64(id2), "e", "2") + frame(p3.ID, "e", "3")
	if got := waitFrames(t, live, 3); strings.Join(got, "") != want {
		t.Fatalf("live subscriber got %q, want %q", got, want)
	}
}

// occupancyLog records the Watch hook's calls of one engine.
type occupancyLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *occupancyLog) hook(name string, occupied bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, fmt.Sprintf("%s %v", name, occupied))
}

func (l *occupancyLog) got() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.calls, ",")
}

// TestOccupancyCountsEveryNode: a channel is occupied when its first
// stream on any node arrives and vacated when its last one on every node
// leaves; each transition is reported once, by the node that made it.
func TestOccupancyCountsEveryNode(t *testing.T) {
	r := redisproc.StartT(t, redisproc.Options{})
	logs := []*occupancyLog{{}, {}}
	var engines []*Engine
	for i := range logs {
		cfg := DefaultConfig()
		cfg.URL, cfg.Prefix = r.URL(), "occ:"
		e, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		e.Watch(logs[i].hook)
		stop, done := make(chan struct{}), make(chan struct{})
		go func() { e.Run(stop); close(done) }()
		t.Cleanup(func() { close(stop); <-done })
		waitUntil(t, "the engine to be ready", 10*time.Second, e.Ready)
		engines = append(engines, e)
	}
	waitLog := func(want0, want1 string) {
		t.Helper()
		waitUntil(t, "occupancy "+want0+" | "+want1, 5*time.Second, func() bool {
			return logs[0].got() == want0 && logs[1].got() == want1
		})
	}
	s0 := subscribe(t, engines[0], "room", &recorder{}, channel.Open{})
	waitLog("room true", "")
	subscribers := func(n int) func() bool { // as Redis counts them
		return func() bool {
			done := make(chan channel.Info, 1)
			engines[0].Info([]byte("room"), func(i channel.Info, _ error) { done <- i })
			return (<-done).Subscribers == n
		}
	}
	s1 := subscribe(t, engines[1], "room", &recorder{}, channel.Open{})
	waitUntil(t, "2 subscribers", 5*time.Second, subscribers(2))
	s0.Cancel()
	waitUntil(t, "1 subscriber", 5*time.Second, subscribers(1))
	waitLog("room true", "")
	s1.Cancel()
	waitLog("room true", "room false")
}

// TestStoppedNodeDropsItsLeases: a node that stops removes its lease from
// every partition, so publishes do not read the leases of every node that
// ever ran.
func TestStoppedNodeDropsItsLeases(t *testing.T) {
	r := redisproc.StartT(t, redisproc.Options{})
	cfg := DefaultConfig()
	cfg.URL, cfg.Prefix = r.URL(), "lease:"
	e, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { e.Run(stop); close(done) }()
	waitUntil(t, "ready", 10*time.Second, e.Ready)
	leases := func() int {
		n := 0
		for _, p := range e.parts {
			m, _ := e.cmd().Do(context.Background(), e.cmd().B().Hgetall().Key(p.pp+"nodes").Build()).AsStrMap()
			n += len(m)
		}
		return n
	}
	waitUntil(t, "leases in every partition", 5*time.Second, func() bool { return leases() == len(e.parts) })
	other := newEngine(t, r.URL(), "lease:", nil) // keeps a client to look with once e has stopped
	close(stop)
	<-done
	for _, p := range e.parts {
		m, err := other.cmd().Do(context.Background(), other.cmd().B().Hgetall().Key(p.pp+"nodes").Build()).AsStrMap()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m[e.node]; ok {
			t.Fatalf("partition %s still holds the stopped node's lease", p.pp)
		}
	}
}
