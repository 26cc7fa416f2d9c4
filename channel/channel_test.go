package channel

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workkit/realtime/ring"
)

// recorder is a Sink that keeps a copy of every frame it gets.
type recorder struct {
	mu     sync.Mutex
	frames []string
	closed bool
}

func (r *recorder) Send(f *ring.Frame) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer f.Release() // keeps a copy of the bytes, not the frame
	if r.closed {
		return false
	}
	r.frames = append(r.frames, string(f.Bytes()))
	return true
}

// nopSink drops its reference at once, as a connection does once the
// frame is written.
type nopSink struct{}

func (nopSink) Send(f *ring.Frame) bool   { f.Release(); return true }
func (nopSink) Replay(f *ring.Frame) bool { f.Release(); return true }

// Replay records a replayed frame like a live one.
func (r *recorder) Replay(f *ring.Frame) bool { return r.Send(f) }

// headFrame is a stream head as the broker builds it, before the opening
// frame is appended.
func headFrame() *ring.Frame {
	f := ring.NewFrame()
	f.AppendString("HEAD")
	return f
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.frames...)
}

const t0 = 1_700_000_000_000_000 // Unix µs of the test clock's start

func testRegistry(replay, maxSubs int) (*Registry, *time.Time) {
	now := time.UnixMicro(t0)
	cfg := Config{ReplayBuffer: replay, MaxSubscribers: maxSubs, IdleTTL: time.Minute, PollTTL: 10 * time.Second,
		Now: func() time.Time { return now }}
	return NewRegistry(cfg), &now
}

func event(id uint64, name, data string) string {
	return fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", id, name, data)
}

func publishN(t *testing.T, r *Registry, ch string, n int) []uint64 {
	t.Helper()
	var ids []uint64
	for i := 0; i < n; i++ {
		p, err := r.Publish([]byte(ch), []byte("e"), []byte(fmt.Sprint(i)), nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	return ids
}

func TestFirstIdIsBasePlusOne(t *testing.T) {
	r, _ := testRegistry(10, 0)
	p, err := r.Publish([]byte("a"), []byte("x"), []byte(`{"k":1}`), nil)
	if err != nil || p.ID != t0+1 || p.Delivered != 0 {
		t.Fatalf("publish = %+v, %v; want id %d", p, err, t0+1)
	}
	p2, _ := r.Publish([]byte("a"), []byte("x"), []byte(`null`), nil)
	if p2.ID != p.ID+1 {
		t.Fatalf("second id %d, want %d", p2.ID, p.ID+1)
	}
}

func TestLiveDeliveryFramesOnce(t *testing.T) {
	r, _ := testRegistry(10, 0)
	a, b := &recorder{}, &recorder{}
	for _, s := range []*recorder{a, b} {
		head := headFrame()
		if _, err := r.Subscribe([]byte("c"), s, Open{Head: head, Retry: 1500 * time.Millisecond}, nil); err != nil {
			t.Fatal(err)
		}
		head.Release()
	}
	p, _ := r.Publish([]byte("c"), []byte("run.stage"), []byte(`{"stage":"x"}`), nil)
	if p.Delivered != 2 {
		t.Fatalf("delivered %d, want 2", p.Delivered)
	}
	// A fresh stream opens with the channel's id (its base here).
	want := []string{fmt.Sprintf("HEADretry: 1500\nid: %d\n\n", p.ID-1), event(p.ID, "run.stage", `{"stage":"x"}`)}
	for _, s := range []*recorder{a, b} {
		if got := s.got(); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

// TestReplayAndReset walks every case of SPEC 3.2 on a channel holding
// ids base+6..base+10 (ring of 5 after 10 publishes).
func TestReplayAndReset(t *testing.T) {
	r, _ := testRegistry(5, 0)
	ids := publishN(t, r, "c", 10)
	base := ids[0] - 1
	n := ids[9]
	o := ids[5]
	frames := func(from uint64) []string {
		var out []string
		for id := from; id <= n; id++ {
			out = append(out, event(id, "e", fmt.Sprint(id-base-1)))
		}
		return out
	}
	gap := func(l uint64) string {
		return fmt.Sprintf("event: realtime.reset\nid: %d\ndata: {\"reason\":\"buffer_gap\",\"lastKnownId\":%d}\n\n", n, l)
	}
	overrun := func(l uint64) string {
		return fmt.Sprintf("event: realtime.reset\nid: %d\ndata: {\"reason\":\"buffer_overrun\",\"lastKnownId\":%d,\"oldestId\":%d}\n\n", n, l, o)
	}
	cases := []struct {
		name string
		last uint64
		want []string
	}{
		{"up to date", n, nil},
		{"one behind", n - 1, frames(n)},
		{"oldest-1 replays all", o - 1, frames(o)},
		{"inside buffer", o + 1, frames(o + 2)},
		{"above last: reset, then the whole buffer", n + 1, append([]string{gap(n + 1)}, frames(o)...)},
		{"far above", n + 1000, append([]string{gap(n + 1000)}, frames(o)...)},
		{"below base", base - 1, append([]string{gap(base - 1)}, frames(o)...)},
		{"zero", 0, append([]string{gap(0)}, frames(o)...)},
		{"at base: overrun", base, append([]string{overrun(base)}, frames(o)...)},
		{"just below oldest-1: overrun", o - 2, append([]string{overrun(o - 2)}, frames(o)...)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &recorder{}
			sub, err := r.Subscribe([]byte("c"), s, Open{Last: c.last, HasLast: true}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Cancel()
			if got := s.got(); strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Fatalf("last %d:\n got %q\nwant %q", c.last, got, c.want)
			}
		})
	}
}

func TestResetOnFreshChannelUsesBase(t *testing.T) {
	r, _ := testRegistry(5, 0)
	s := &recorder{}
	if _, err := r.Subscribe([]byte("new"), s, Open{Last: 42, HasLast: true}, nil); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("event: realtime.reset\nid: %d\ndata: {\"reason\":\"buffer_gap\",\"lastKnownId\":42}\n\n", uint64(t0))
	if got := s.got(); len(got) != 1 || got[0] != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestEmptyBufferOldestIsLastPlusOne(t *testing.T) {
	r, _ := testRegistry(0, 0)
	ids := publishN(t, r, "c", 3)
	info := r.Lookup([]byte("c")).Info()
	if info.LastID != ids[2] || info.OldestID != ids[2]+1 || info.Buffered != 0 {
		t.Fatalf("info %+v", info)
	}
	// L = N-1 = O-2 >= base: buffer_overrun with oldestId O = N+1.
	s := &recorder{}
	r.Subscribe([]byte("c"), s, Open{Last: ids[1], HasLast: true}, nil)
	want := fmt.Sprintf("event: realtime.reset\nid: %d\ndata: {\"reason\":\"buffer_overrun\",\"lastKnownId\":%d,\"oldestId\":%d}\n\n", ids[2], ids[1], ids[2]+1)
	if got := s.got(); len(got) != 1 || got[0] != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestSubscriberLimit(t *testing.T) {
	r, _ := testRegistry(5, 2)
	var subs []*Subscription
	for i := 0; i < 2; i++ {
		s, err := r.Subscribe([]byte("c"), &recorder{}, Open{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	third := &recorder{}
	if _, err := r.Subscribe([]byte("c"), third, Open{Head: headFrame()}, nil); err != ErrFull {
		t.Fatalf("third subscribe: %v, want ErrFull", err)
	}
	if len(third.got()) != 0 {
		t.Fatal("a refused subscriber was sent frames")
	}
	subs[0].Cancel()
	subs[0].Cancel() // idempotent
	if _, err := r.Subscribe([]byte("c"), third, Open{}, nil); err != nil {
		t.Fatalf("after cancel: %v", err)
	}
	if got := r.Lookup([]byte("c")).Info().Subscribers; got != 2 {
		t.Fatalf("subscribers %d, want 2", got)
	}
}

func TestCancelStopsDelivery(t *testing.T) {
	r, _ := testRegistry(5, 0)
	recs := make([]*recorder, 5)
	subs := make([]*Subscription, 5)
	for i := range recs {
		recs[i] = &recorder{}
		subs[i], _ = r.Subscribe([]byte("c"), recs[i], Open{}, nil)
	}
	subs[1].Cancel()
	subs[3].Cancel()
	p, _ := r.Publish([]byte("c"), []byte("e"), []byte("1"), nil)
	if p.Delivered != 3 {
		t.Fatalf("delivered %d, want 3", p.Delivered)
	}
	for i, rec := range recs {
		want := 1
		if i == 1 || i == 3 {
			want = 0
		}
		if len(rec.got()) != want {
			t.Fatalf("subscriber %d got %d frames, want %d", i, len(rec.got()), want)
		}
	}
}

func TestClosedSinkNotCounted(t *testing.T) {
	r, _ := testRegistry(5, 0)
	s := &recorder{closed: true}
	r.Subscribe([]byte("c"), s, Open{}, nil)
	if p, _ := r.Publish([]byte("c"), []byte("e"), []byte("1"), nil); p.Delivered != 0 {
		t.Fatalf("delivered %d to a closed sink", p.Delivered)
	}
}

// TestConcurrentPublishAndSubscribe checks that ids are unique and
// consecutive under concurrent publishers, and that a subscriber joining
// mid-stream with a last id sees every later event exactly once, in order.
func TestConcurrentPublishAndSubscribe(t *testing.T) {
	r, _ := testRegistry(100000, 0)
	const publishers, each = 4, 500
	first := publishN(t, r, "c", 1)[0]
	var wg sync.WaitGroup
	for i := 0; i < publishers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				r.Publish([]byte("c"), []byte("e"), []byte("0"), nil)
			}
		}()
	}
	late := &recorder{}
	r.Subscribe([]byte("c"), late, Open{Last: first, HasLast: true}, nil)
	wg.Wait()
	got := late.got()
	if len(got) != publishers*each {
		t.Fatalf("late subscriber got %d events, want %d", len(got), publishers*each)
	}
	for i, f := range got {
		if want := event(first+1+uint64(i), "e", "0"); f != want {
			t.Fatalf("event %d = %q, want %q", i, f, want)
		}
	}
}

func TestEventOf(t *testing.T) {
	f := ring.NewFrame()
	f.SetBytes(AppendEvent(f.Buf(), 123, []byte("run.stage"), []byte(`{"a":[1,2]}`)))
	ev, data := EventOf(f)
	if string(ev) != "run.stage" || string(data) != `{"a":[1,2]}` {
		t.Fatalf("EventOf = %q %q", ev, data)
	}
	f.Release()
}
