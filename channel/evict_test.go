package channel

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestIdleChannelIsEvicted(t *testing.T) {
	r, now := testRegistry(5, 0)
	first, _ := r.Publish([]byte("c"), []byte("e"), []byte("1"), nil)
	last, _ := r.Publish([]byte("c"), []byte("e"), []byte("2"), nil)

	*now = now.Add(59 * time.Second)
	r.EvictIdle(*now)
	if r.Lookup([]byte("c")) == nil {
		t.Fatal("evicted before the TTL")
	}
	*now = now.Add(2 * time.Second)
	r.EvictIdle(*now)
	if r.Lookup([]byte("c")) != nil || r.Evictions() != 1 {
		t.Fatalf("not evicted after the TTL (evictions %d)", r.Evictions())
	}

	// The next incarnation starts above every id of the old one, even
	// though the clock says otherwise, so an old id is a gap.
	*now = time.UnixMicro(int64(first.ID) - 1000)
	p, _ := r.Publish([]byte("c"), []byte("e"), []byte("3"), nil)
	if p.ID <= last.ID+1 {
		t.Fatalf("new incarnation id %d not above old last id %d + 1", p.ID, last.ID)
	}
	s := &recorder{}
	r.Subscribe([]byte("c"), s, Open{Last: last.ID, HasLast: true}, nil)
	// The reset is followed by the new incarnation's buffer (SPEC 3.2):
	// nothing still buffered is lost.
	want := []string{
		fmt.Sprintf("event: realtime.reset\nid: %d\ndata: {\"reason\":\"buffer_gap\",\"lastKnownId\":%d}\n\n", p.ID, last.ID),
		event(p.ID, "e", "3"),
	}
	if got := s.got(); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestPublishKeepsChannelAlive(t *testing.T) {
	r, now := testRegistry(5, 0)
	r.Publish([]byte("c"), []byte("e"), []byte("1"), nil)
	for i := 0; i < 5; i++ {
		*now = now.Add(40 * time.Second)
		r.Publish([]byte("c"), []byte("e"), []byte("1"), nil)
		r.EvictIdle(*now)
		if r.Lookup([]byte("c")) == nil {
			t.Fatalf("evicted at step %d although published to every 40s", i)
		}
	}
	*now = now.Add(61 * time.Second)
	r.EvictIdle(*now)
	if r.Lookup([]byte("c")) != nil {
		t.Fatal("not evicted after a quiet TTL")
	}
}

func TestSubscribedChannelIsKept(t *testing.T) {
	r, now := testRegistry(5, 0)
	sub, _ := r.Subscribe([]byte("c"), &recorder{}, Open{}, nil)
	*now = now.Add(10 * time.Minute)
	r.EvictIdle(*now)
	if r.Lookup([]byte("c")) == nil {
		t.Fatal("a channel with a subscriber was evicted")
	}
	sub.Cancel() // idle from now
	*now = now.Add(30 * time.Second)
	r.EvictIdle(*now)
	if r.Lookup([]byte("c")) == nil {
		t.Fatal("evicted 30s after its last subscriber left")
	}
	*now = now.Add(31 * time.Second)
	r.EvictIdle(*now)
	if r.Lookup([]byte("c")) != nil {
		t.Fatal("not evicted a TTL after its last subscriber left")
	}
}

// TestEvictionRace publishes and subscribes while evicting: every
// operation lands on a live incarnation and ids never go backwards.
func TestEvictionRace(t *testing.T) {
	r, _ := testRegistry(5, 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 2000; i++ {
			r.EvictIdle(time.Now().Add(time.Hour))
		}
	}()
	var prev uint64
	for i := 0; i < 2000; i++ {
		p, err := r.Publish([]byte("c"), []byte("e"), []byte("1"), nil)
		if err != nil || p.ID <= prev {
			t.Fatalf("publish %d: id %d after %d (%v)", i, p.ID, prev, err)
		}
		prev = p.ID
	}
	<-done
}
