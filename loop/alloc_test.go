//go:build !race

package loop

import (
	"io"
	"testing"
)

// TestSendAndFlushAllocs: queueing a shared frame on a connection and
// writing it allocate nothing once warm.
func TestSendAndFlushAllocs(t *testing.T) {
	s := testServer(t, func(c *Config) { c.MaxPendingBytes = 1 << 40 }) // the reader may lag
	c, peer := pipeConn(t, s)
	go io.Copy(io.Discard, peer)
	f := frameOf("id: 1795752898270790\nevent: run.stage\ndata: {\"stage\":\"ai_verify\",\"progress\":40}\n\n")
	defer f.Release()
	allocs := testing.AllocsPerRun(1000, func() {
		f.Retain(4)
		for i := 0; i < 4; i++ {
			c.enqueue(f, true, false)
		}
		c.flushOwn()
	})
	if allocs != 0 {
		t.Fatalf("enqueue+flush allocates %.1f times per run, want 0", allocs)
	}
}

// TestSendMarkedAndFlushAllocs: a multiplexed stream's delivery (a shared
// frame queued marked, its line built when written) allocates nothing once
// warm.
func TestSendMarkedAndFlushAllocs(t *testing.T) {
	s := testServer(t, func(c *Config) { c.MaxPendingBytes = 1 << 40 })
	c, peer := pipeConn(t, s)
	go io.Copy(io.Discard, peer)
	c.BindCursor(&fixedLines{line: []byte("id: 1ABCDEFGHIJKLMNOP\n")})
	f := frameOf("event: run.stage\ndata: {\"channel\":\"c0\",\"id\":1795752898270790,\"data\":{}}\n\n")
	defer f.Release()
	allocs := testing.AllocsPerRun(1000, func() {
		f.Retain(4)
		for i := 0; i < 4; i++ {
			c.SendMarked(f, i, true)
		}
		c.flushOwn()
	})
	if allocs != 0 {
		t.Fatalf("SendMarked+flush allocates %.1f times per run, want 0", allocs)
	}
}
