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
// each per batch, not per write: every flusher shares these counters) and
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
// reference. A live frame (an event, a heartbeat) counts against
// MaxPendingBytes: one that would go over it is refused and the connection
// closed as a slow consumer. Any other frame (a reply, a stream's opening,
// a replay) is delivered whole and counted in c.whole instead. With
// schedule, the connection is handed to a flusher if nobody owns its
// queue; without, the caller flushes it itself (flushOwn). It reports
// false, releasing f, when the connection no longer accepts frames.
func (c *Conn) enqueue(f *ring.Frame, live, schedule bool) bool {
	return c.enqueueSlot(f, noSlot, live, schedule)
}

// enqueueSlot appends f, as enqueue describes, marked with slot (noSlot:
// unmarked).
func (c *Conn) enqueueSlot(f *ring.Frame, slot int32, live, schedule bool) bool {
	n := f.Len()
	c.mu.Lock()
	refuse := !c.state().accepting()
	if slot != noSlot {
		if c.lines == nil {
			refuse = true
		} else {
			n += c.lines.n
		}
	}
	slow := !refuse && live && c.pending-c.whole+n > c.srv.cfg.MaxPendingBytes
	if refuse || slow {
		c.mu.Unlock()
		f.Release()
		if slow {
			c.Close(CloseSlowConsumer)
		}
		return false
	}
	c.pushLocked(f, slot)
	c.pending += n
	if !live {
		c.whole += n
	}
	push := schedule && c.scheduleLocked()
	c.mu.Unlock()
	if push {
		c.srv.flushq.push(c)
	}
	return true
}

// flushOwn writes the queue from the calling goroutine (a request handler's),
// unless a flusher already owns it or the socket is stalled.
func (c *Conn) flushOwn() {
	c.mu.Lock()
	mine := c.scheduleLocked()
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
// The caller owns the flush (scheduleLocked chose it). On a full socket
// the connection waits for EPOLLOUT (stalled); a closing one, or an ending
// one whose queue is written, is closed here.
func (c *Conn) flush(sc *flushScratch) {
	var closeNow, resume bool
	c.wmu.Lock()
	for {
		c.mu.Lock()
		st := c.state()
		if st == stateClosed {
			c.ws = writeIdle
			c.mu.Unlock()
			break
		}
		if st == stateClosing || len(c.queue) == 0 {
			// A closing connection stays writeQueued: it is never scheduled again.
			closeNow = st >= stateEnding
			if !closeNow {
				c.ws = writeIdle
				resume, c.paused = c.paused, false
			}
			c.mu.Unlock()
			if st == stateEnding { // all written: send FIN (wmu held, so the fd is still ours)
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
				c.ws = writeStalled
				c.mu.Unlock()
				c.stall()
				break
			}
			c.setStateLocked(stateClosing)
			closeNow = true
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
	if resume { // input was paused for this backlog: serve what waited
		go c.Resume()
	}
}

// gatherLocked points the scratch iovecs at the queued frames. mu is held.
func (c *Conn) gatherLocked(sc *flushScratch) []unix.Iovec {
	if c.lines != nil {
		return c.gatherMarkedLocked(sc)
	}
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
// fully written frames to sc.release. Written bytes are taken off c.whole
// first: a stream's head and replay are queued before its live frames. (A
// whole delivery queued behind live frames makes the slow-consumer limit
// apply a little early, never late.) mu is held.
func (c *Conn) consumeLocked(n int, sc *flushScratch) {
	sc.writes++
	sc.bytes += uint64(n)
	c.lastWrite.Store(c.srv.timers.now())
	c.pending -= n
	c.whole -= min(n, c.whole)
	done := 0
	for n > 0 {
		rest := c.entryLen(done) - c.off
		if n < rest {
			c.off += n
			break
		}
		n -= rest
		c.off = 0
		sc.release = append(sc.release, c.queue[done])
		done++
	}
	if c.lines != nil {
		c.lines.consumed(done)
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
	if c.ws == writeStalled {
		c.ws = writeIdle
	}
	push := c.scheduleLocked()
	c.mu.Unlock()
	if push {
		c.srv.flushq.push(c)
	}
}

// isStalled reports whether c waits for its socket to drain.
func (c *Conn) isStalled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ws == writeStalled
}
