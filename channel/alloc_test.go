//go:build !race

package channel

import (
	"testing"
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

// TestMuxPublishAllocs: a publish to a channel with multiplexed
// subscribers (its second form, queued marked on each stream) allocates
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
