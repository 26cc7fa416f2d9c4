//go:build !race

package redisengine

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"

	"github.com/workkit/realtime/channel"
	"github.com/workkit/realtime/ring"
)

// nopSink drops what it gets, as a connection does once it is written.
type nopSink struct{}

func (nopSink) Send(f *ring.Frame) bool   { f.Release(); return true }
func (nopSink) Replay(f *ring.Frame) bool { f.Release(); return true }

// liveMirror returns an engine (not running: no Redis needed) holding a
// live mirror of channel "c" with n local subscribers, as a node has after
// its join.
func liveMirror(t testing.TB, n int) (*Engine, *mirror) {
	cfg := DefaultConfig()
	cfg.URL = "redis://127.0.0.1:1/0" // never dialled: the engine does not run
	e, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := e.reg.Adopt([]byte("c"), 1000, 1000, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	k, p := e.keysOf("c")
	m := &mirror{e: e, name: "c", k: k, part: p, ch: ch, state: live}
	e.mirrors.Store("c", m)
	for range n {
		if _, err := ch.Subscribe(nopSink{}, channel.Open{}); err != nil {
			t.Fatal(err)
		}
	}
	return e, m
}

// messages returns pub/sub payloads of events 1001.. of channel "c".
func messages(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "1000 " + strconv.Itoa(1001+i) + ` run.stage {"stage":"ai_verify","progress":40}`
	}
	return out
}

// TestReceiveAllocs: an event arriving from pub/sub is parsed and fanned
// out to the node's subscribers without allocating, once warm.
func TestReceiveAllocs(t *testing.T) {
	_, m := liveMirror(t, 100)
	msgs := messages(2000)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		msg, err := parseMessage(msgs[i])
		if err != nil {
			t.Fatal(err)
		}
		m.receive(msg)
		i++
	})
	if allocs != 0 {
		t.Fatalf("receiving an event allocates %.1f times, want 0", allocs)
	}
	if _, last := m.ch.Position(); last != uint64(1000+i) {
		t.Fatalf("mirror at %d after %d events: not applied in order", last, i)
	}
}

// BenchmarkReceive measures a node's share of an event from pub/sub:
// parsing the message and fanning it out to its local subscribers.
func BenchmarkReceive(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprint(n, "-subscribers"), func(b *testing.B) {
			_, m := liveMirror(b, n)
			msgs := messages(b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				msg, _ := parseMessage(msgs[i])
				m.receive(msg)
			}
		})
	}
}
