package channel

import (
	"fmt"
	"testing"

	"github.com/workkit/realtime/ring"
)

// nopMuxSink is nopSink as a multiplexed stream's connection.
type nopMuxSink struct{ nopSink }

func (nopMuxSink) SendMarked(f *ring.Frame, _ int, _ bool) bool { f.Release(); return true }

// muxSubscribers opens n multiplexed streams of k channels each, "c0" among
// them, on r.
func muxSubscribers(t testing.TB, r *Registry, n, k int) {
	names := make([]string, k)
	for i := range names {
		names[i] = fmt.Sprint("c", i)
	}
	for range n {
		s := NewMuxStream(nopMuxSink{}, names)
		for i, name := range names {
			if _, err := r.Subscribe([]byte(name), s.Member(i), Open{Mux: true}, nil); err != nil {
				t.Fatal(err)
			}
		}
		s.Open(headFrame(), 0)
	}
}
