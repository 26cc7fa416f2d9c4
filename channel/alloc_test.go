//go:build !race

package channel

import (
	"fmt"
	"testing"

	"github.com/workkit/realtime/ring"
)

// TestPublishAllocs: publishing to a live channel with subscribers frames
// into pooled buffers and allocates nothing once warm.
func TestPublishAllocs(t *testing.T) {
	r, _ := testRegistry(50, 0)
	for i := 0; i < 100; i++ {
		r.Subscribe([]byte("c"), nopSink{}, Open{}, nil)
	}
	name, ev, data := []byte("c"), []byte("run.stage"), []byte(`{"stage":"ai_verify","progress":40}`)
	allocs := testing.AllocsPerRun(1000, func() { r.Publish(name, ev, data, nil) })
	if allocs != 0 {
		t.Fatalf("publish allocates %.1f times, want 0", allocs)
	}
}

// nopPairSink is nopSink as a multiplexed stream's connection.
type nopPairSink struct{ nopSink }

func (nopPairSink) SendPair(a, b *ring.Frame, _ bool) bool { a.Release(); b.Release(); return true }

// muxSubscribers opens n multiplexed streams of k channels each, "c0" among
// them, on r.
func muxSubscribers(t testing.TB, r *Registry, n, k int) {
	names := make([]string, k)
	for i := range names {
		names[i] = fmt.Sprint("c", i)
	}
	for range n {
		s := NewMuxStream(nopPairSink{}, names)
		for i, name := range names {
			if _, err := r.Subscribe([]byte(name), s.Member(i), Open{Mux: true}, nil); err != nil {
				t.Fatal(err)
			}
		}
		s.Open(headFrame(), 0)
	}
}

// TestMuxPublishAllocs: a publish to a channel with multiplexed
// subscribers (its second form and each stream's cursor line) allocates
// nothing once warm either.
func TestMuxPublishAllocs(t *testing.T) {
	r, _ := testRegistry(50, 0)
	muxSubscribers(t, r, 100, 8)
	name, ev, data := []byte("c0"), []byte("run.stage"), []byte(`{"stage":"ai_verify","progress":40}`)
	allocs := testing.AllocsPerRun(1000, func() { r.Publish(name, ev, data, nil) })
	if allocs != 0 {
		t.Fatalf("publish to multiplexed streams allocates %.1f times, want 0", allocs)
	}
}
