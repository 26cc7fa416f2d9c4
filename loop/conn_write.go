package loop

import (
	"sync"

	"github.com/workkit/realtime/ring"
	"golang.org/x/sys/unix"
)

// flushScratch is one writer's reusable space: the iovecs of a sendmsg, the
// frames written, whose references are dropped after a whole batch of
// connections, and the batch's write counters (finish). One per flusher
// goroutine; pooled for inline flushes.
type flushScratch struct {
	iov     [maxIovecs]unix.Iovec
	release []*ring.Frame
	writes  uint64 // sendmsg calls that wrote bytes
	bytes   uint64 // bytes they wrote
}

// finish ends a batch: it adds the batch's counters to st (one atomic add
// each per batch, not per write: both flushers share these counters) and
// drops the references of the written frames. In a fan-out the same frame
// was written to every connection of the batch: references are counted per
// frame and dropped with one atomic operation each, rather than one per
// connection.
func (sc *flushScratch) finish(st *Stats) {
	if sc.writes > 0 {
		st.Writes.Add(sc.writes)
		st.BytesOut.Add(sc.bytes)
		st.FramesOut.Add(uint64(len(sc.release)))
		sc.writes, sc.bytes = 0, 0
	}
	var pending [8]struct {
		f *ring.Frame
		n int32
	}
	used := 0
	drop := func() {
		for i := range pending[:used] {
			pending[i].f.ReleaseN(pending[i].n)
			pending[i].f = nil
		}
		used = 0
	}
	for i, f := range sc.release {
		j := 0
		for j < used && pending[j].f != f {
			j++
		}
		if j == used {
			if used == len(pending) {
				drop()
				j = 0
			}
			pending[j].f, pending[j].n = f, 0
			used = j + 1
		}
		pending[j].n++
		sc.release[i] = nil
	}
	drop()
	sc.release = sc.release[:0]
}

var scratchPool = sync.Pool{New: func() any { return new(flushScratch) }}

// enqueue appends f to the outbound queue, taking over the caller's
// reference. With schedule, a connection that is neither queued nor stalled
// is handed to a flusher; without, the caller flushes it itself
// (flushOwn). It reports false, releasing f, when the connection is closing
// or would exceed MaxPendingBytes — in which case it is closed as a slow
// consumer.
func (c *Conn) enqueue(f *ring.Frame, schedule bool) bool {
	n := f.Len()
	c.mu.Lock()
	if c.closed || c.closeReq || c.closeAfter {
		c.mu.Unlock()
		f.Release()
		return false
	}
	if c.pending+n > c.srv.cfg.MaxPendingBytes {
		c.mu.Unlock()
		f.Release()
		c.Close(CloseSlowConsumer)
		return false
	}
	c.queue = append(c.queue, f)
	c.pending += n
	wake := schedule && !c.queued && !c.stalled
	if wake {
		c.queued = true
	}
	c.mu.Unlock()
	if wake {
		c.srv.flushq.push(c)
	}
	return true
}

// flushOwn writes the queue from the calling goroutine (a request handler's),
// unless a flusher already owns it or the socket is stalled.
func (c *Conn) flushOwn() {
	c.mu.Lock()
	mine := !c.queued && !c.stalled && (len(c.queue) > 0 || c.closeAfter)
	if mine {
		c.queued = true
	}
	c.mu.Unlock()
	if mine {
		sc := scratchPool.Get().(*flushScratch)
		c.flush(sc)
		sc.finish(&c.srv.stats)
		scratchPool.Put(sc)
	}
}

// flush writes as much of the queue as the socket takes, in as few sendmsg
// calls as possible: everything queued meanwhile leaves in the next call.
// The caller owns the flush (it set queued). On a full socket the
// connection waits for EPOLLOUT (stalled); a closing one is closed here.
func (c *Conn) flush(sc *flushScratch) {
	var closeNow bool
	c.wmu.Lock()
	for {
		c.mu.Lock()
		if c.closed {
			c.queued = false
			c.mu.Unlock()
			break
		}
		if c.closeReq || len(c.queue) == 0 {
			closeNow = c.closeReq || c.closeAfter
			graceful := closeNow && !c.closeReq
			c.queued = closeNow // a closing connection is never scheduled again
			c.mu.Unlock()
			if graceful { // all written: send FIN (wmu held, so the fd is still ours)
				_ = unix.Shutdown(c.fd, unix.SHUT_WR)
			}
			break
		}
		iov := c.gatherLocked(sc)
		c.mu.Unlock()

		n, err := sendmsg(c.fd, iov)

		c.mu.Lock()
		if n > 0 {
			c.consumeLocked(n, sc)
		}
		if err != nil {
			if isTemporary(err) {
				c.queued, c.stalled = false, true
				c.mu.Unlock()
				c.stall()
				break
			}
			c.closeReq, closeNow = true, true
			c.mu.Unlock()
			c.setReason(CloseWriteError)
			break
		}
		c.mu.Unlock()
	}
	c.wmu.Unlock()
	if closeNow {
		_ = c.nc.Close()
	}
}

// gatherLocked points the scratch iovecs at the queued frames. mu is held.
func (c *Conn) gatherLocked(sc *flushScratch) []unix.Iovec {
	n := min(len(c.queue), maxIovecs)
	for i := 0; i < n; i++ {
		b := c.queue[i].Bytes()
		if i == 0 {
			b = b[c.off:]
		}
		setIovec(&sc.iov[i], b)
	}
	return sc.iov[:n]
}

// consumeLocked drops n written bytes from the head of the queue, moving
// fully written frames to sc.release. mu is held.
func (c *Conn) consumeLocked(n int, sc *flushScratch) {
	sc.writes++
	sc.bytes += uint64(n)
	c.lastWrite.Store(c.srv.timers.now())
	c.pending -= n
	done := 0
	for n > 0 {
		rest := c.queue[done].Len() - c.off
		if n < rest {
			c.off += n
			break
		}
		n -= rest
		c.off = 0
		sc.release = append(sc.release, c.queue[done])
		done++
	}
	if done == len(c.queue) {
		clear(c.queue)
		if cap(c.queue) > 64 { // a burst grew it: give the memory back
			c.queue = nil
		} else {
			c.queue = c.queue[:0]
		}
		return
	}
	c.queue = c.queue[:copy(c.queue, c.queue[done:])]
	clear(c.queue[len(c.queue) : len(c.queue)+done])
}

// stall parks the connection until its socket is writable again. wmu is
// held.
func (c *Conn) stall() {
	c.srv.stats.Stalls.Add(1)
	if err := c.srv.wpoll.arm(c); err != nil {
		c.Close(CloseWriteError)
		return
	}
	c.srv.timers.stalled(c)
}

// writable is called by the write poller when a stalled socket can take
// bytes again: the connection goes back to a flusher.
func (c *Conn) writable() {
	c.mu.Lock()
	wake := c.stalled && !c.queued && !c.closed
	c.stalled = false
	if wake {
		c.queued = true
	}
	c.mu.Unlock()
	if wake {
		c.srv.flushq.push(c)
	}
}

// isStalled reports whether c waits for its socket to drain.
func (c *Conn) isStalled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stalled
}
