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
			dropQueue(c)
		}
	}
}

// dropQueue empties the queue of a socket-less Conn, as if written.
func dropQueue(c *Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, q := range c.queue {
		q.Release()
	}
	c.queue, c.pending = c.queue[:0], 0
	if l := c.lines; l != nil {
		l.slots, l.buf, l.built = l.slots[:0], l.buf[:0], 0
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

// fixedLines is a CursorLines of one constant line (a cursor's length).
type fixedLines struct{ line []byte }

func (l *fixedLines) LineLen() int { return len(l.line) }

func (l *fixedLines) AppendLine(dst []byte, _ int, _ uint64) []byte { return append(dst, l.line...) }

// BenchmarkEnqueueMarked is BenchmarkEnqueue for a multiplexed stream: the
// publisher queues the shared frame marked; its line is built at write time.
func BenchmarkEnqueueMarked(b *testing.B) {
	s := testServer(b, nil)
	c := &Conn{srv: s, ws: writeQueued}
	c.BindCursor(&fixedLines{line: make([]byte, 134)})
	f := frameOf(benchFrame)
	defer f.Release()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		f.Retain(1)
		c.SendMarked(f, 0, true)
		if i%1024 == 1023 {
			dropQueue(c)
		}
	}
}

// BenchmarkFlushMarked is BenchmarkFlush's one frame per sendmsg for a
// multiplexed stream: the 134-byte cursor line of 8 channels is built into
// the connection's line buffer and written with the frame.
func BenchmarkFlushMarked(b *testing.B) {
	s := testServer(b, func(c *Config) { c.MaxPendingBytes = 1 << 40 })
	c, peer := pipeConn(b, s)
	go io.Copy(io.Discard, peer)
	c.BindCursor(&fixedLines{line: make([]byte, 134)})
	f := frameOf(benchFrame)
	defer f.Release()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		f.Retain(1)
		c.SendMarked(f, 0, true)
		c.flushOwn()
	}
}
