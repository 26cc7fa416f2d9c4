package loop

import (
	"io"
	"testing"
)

var benchFrame = "id: 1795752898270790\nevent: run.stage\ndata: {\"stage\":\"ai_verify\",\"progress\":40}\n\n"

// BenchmarkEnqueue measures the publisher's side of a delivery: queueing a
// shared frame on one subscriber connection.
func BenchmarkEnqueue(b *testing.B) {
	s := testServer(b, nil)
	c := &Conn{srv: s, ws: writeQueued} // queued: nobody flushes this socket-less Conn
	f := frameOf(benchFrame)
	defer f.Release()
	b.ReportAllocs()
	b.SetBytes(int64(f.Len()))
	for i := 0; i < b.N; i++ {
		f.Retain(1)
		c.enqueue(f, true, true)
		if i%1024 == 1023 { // keep the queue bounded
			c.mu.Lock()
			for _, q := range c.queue {
				q.Release()
			}
			c.queue, c.pending = c.queue[:0], 0
			c.mu.Unlock()
		}
	}
}

// BenchmarkFlush measures writing frames to a socket, one frame per
// sendmsg and ten coalesced into one.
func BenchmarkFlush(b *testing.B) {
	for _, perWrite := range []int{1, 10} {
		b.Run(map[int]string{1: "1-frame", 10: "10-frames"}[perWrite], func(b *testing.B) {
			s := testServer(b, func(c *Config) { c.MaxPendingBytes = 1 << 40 }) // the reader may lag
			c, peer := pipeConn(b, s)
			go io.Copy(io.Discard, peer)
			f := frameOf(benchFrame)
			defer f.Release()
			b.ReportAllocs()
			b.SetBytes(int64(f.Len() * perWrite))
			for i := 0; i < b.N; i++ {
				f.Retain(int32(perWrite))
				for j := 0; j < perWrite; j++ {
					c.enqueue(f, true, false)
				}
				c.flushOwn()
			}
		})
	}
}
