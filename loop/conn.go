package loop

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/cloudwego/netpoll"
	"github.com/valyala/bytebufferpool"
	"github.com/workkit/realtime/ring"
	"github.com/workkit/realtime/wheel"
)

// Conn is one client connection. Handlers answer requests on it with Reply
// or turn it into an event stream with StartStream; as a stream it is a
// channel.Sink. Its exported methods are safe for concurrent use. Its
// lifecycle is the connState diagram of conn_state.go.
//
// Three locks, always taken in this order (see DESIGN.md):
//
//	rmu  request handling: netpoll's OnRequest, or Resume after a deferred reply
//	wmu  socket writes and the fd's lifetime: held across one non-blocking sendmsg,
//	     and by the close callback so the fd is never written after netpoll closes it
//	mu   the lifecycle state, the outbound queue and the write state; never held across a syscall
type Conn struct {
	// Context is context.Background; embedding it lets netpoll hand the
	// *Conn back to OnRequest as its ctx without an allocation.
	context.Context

	srv *Server            // immutable
	nc  netpoll.Connection // immutable
	fd  int                // immutable; valid until the close callback has run

	rmu       sync.Mutex
	carry     *bytebufferpool.ByteBuffer // guarded by rmu; bytes of an incomplete request
	discarded int                        // guarded by rmu; input bytes a stream's peer sent after its request
	continued bool                       // guarded by rmu; "100 Continue" was sent for the request in carry

	wmu        sync.Mutex
	wpollArmed bool // guarded by wmu; fd is registered with the write poller

	mu       sync.Mutex
	st       atomic.Uint32 // connState; written under mu only (conn_state.go), read anywhere
	ws       writeState    // guarded by mu
	queue    []*ring.Frame // guarded by mu; frames to write, oldest first, one reference each
	lines    *cursorLines  // guarded by mu; a multiplexed stream's id lines (BindCursor), else nil
	off      int           // guarded by mu; bytes of queue[0] already written
	pending  int           // guarded by mu; unwritten bytes in queue
	whole    int           // guarded by mu; of pending, bytes queued as whole deliveries (replies, replays), exempt from MaxPendingBytes
	streamed bool          // guarded by mu; entered stateStream, so it is counted in Stats.Streams
	paused   bool          // guarded by mu; input paused until the queue drains (output backpressure)
	onClose  func()        // guarded by mu; the stream's cleanup, run once by the close callback
	onDrain  func()        // guarded by mu; answers a deferred request at once when the server drains

	reason    atomic.Uint32 // CloseReason+1 of the first close request, 0 if none
	lastWrite atomic.Int64  // timer clock (ns) of the last write that made progress
	overload  bool          // immutable after prepare: accepted past MaxConns

	prev, next *Conn // guarded by srv.mu: the server's list of open connections

	// timer is the connection's deadline: header, idle, heartbeat or write
	// stall, depending on its state (timers.go); expiry closes a stream at
	// its credential's expiry. Guarded by the server's timer lock.
	timer   wheel.Timer[*Conn]
	expiry  wheel.Timer[*Conn]
	timerOf timerKind // guarded by the server's timer lock
}

// Reply queues a complete response, taking over the caller's reference to
// f. A reply is delivered whole: it never counts as a slow consumer's
// backlog. With keepAlive false the connection closes once it is written
// and no further request is read. Call it from the handler, or after Defer
// from any goroutine followed by Resume.
func (c *Conn) Reply(f *ring.Frame, keepAlive bool) {
	c.enqueue(f, false, false)
	switch {
	case !keepAlive:
		c.endAfterReply(CloseResponse)
	case c.srv.Draining():
		c.endAfterReply(CloseShutdown)
	}
}

// StartStream turns the connection into an event stream: from now on input
// is discarded, heartbeats are sent, and onClose (if not nil) runs once when
// the connection closes — at once if it is already closing. The stream's
// head must have been queued (by Reply or Replay) before, or by the caller
// right after.
func (c *Conn) StartStream(onClose func()) {
	c.mu.Lock()
	st := c.state()
	ok := st == stateRequest || st == stateDeferred
	if ok {
		c.setStateLocked(stateStream)
		c.streamed = true
		c.onClose = onClose
		c.srv.stats.Streams.Add(1)
	}
	c.mu.Unlock()
	if !ok {
		if onClose != nil {
			onClose()
		}
		return
	}
	if c.srv.cfg.StreamSendBuffer > 0 {
		_ = setSendBuffer(c.fd, c.srv.cfg.StreamSendBuffer)
	}
	c.srv.timers.streamStarted(c)
}

// SetOnClose makes fn (if not nil) run once when the connection closes,
// replacing any earlier one; nil removes it. If the connection has already
// closed, fn runs now and SetOnClose reports false. A deferred handler uses
// it to drop what it waits on when the peer goes away.
func (c *Conn) SetOnClose(fn func()) bool {
	c.mu.Lock()
	closed := c.state() == stateClosed
	if !closed {
		c.onClose = fn
	}
	c.mu.Unlock()
	if closed && fn != nil {
		fn()
	}
	return !closed
}

// SetOnDrain makes fn (if not nil) run, once, if the server starts
// draining while the connection's reply is deferred: a handler that can
// answer at once (a parked long-poll) replies from fn instead of making
// shutdown wait for its timeout. nil removes it.
func (c *Conn) SetOnDrain(fn func()) {
	c.mu.Lock()
	c.onDrain = fn
	c.mu.Unlock()
}

// Send queues a live event frame on a stream (channel.Sink), taking over
// the caller's reference. It never blocks and never writes: a flusher
// goroutine does. It reports false, releasing f, when the connection is
// closing or would go over MaxPendingBytes of live frames (it is then
// closed as a slow consumer).
func (c *Conn) Send(f *ring.Frame) bool {
	return c.enqueue(f, true, true)
}

// Replay queues a frame of a stream's opening or replay (channel.Sink):
// like Send, but delivered whole — it never counts against
// MaxPendingBytes, whose limit applies to what is queued beyond the replay.
func (c *Conn) Replay(f *ring.Frame) bool {
	return c.enqueue(f, false, true)
}

// End ends a stream for good (channel.Ender): f, if not nil, is queued as
// its last frame, delivered whole, and the connection closes once its
// queue is written (CloseRevoked). It takes over the reference to f and
// reports whether this call ended the stream: false if it was not an open
// stream (already ending or closing), f then released.
func (c *Conn) End(f *ring.Frame) bool {
	c.mu.Lock()
	if c.state() != stateStream {
		c.mu.Unlock()
		if f != nil {
			f.Release()
		}
		return false
	}
	if f != nil {
		c.pushLocked(f, noSlot)
		c.pending += f.Len()
		c.whole += f.Len()
	}
	c.setReason(CloseRevoked)
	c.setStateLocked(stateEnding)
	push := c.scheduleLocked()
	c.mu.Unlock()
	if push {
		c.srv.flushq.push(c)
	}
	return true
}

// Close closes the connection for reason. It only records the request; a
// flusher goroutine calls netpoll's Close, so Close is safe with any lock
// held (including a channel's).
func (c *Conn) Close(reason CloseReason) {
	c.setReason(reason)
	c.mu.Lock()
	if c.state() >= stateClosing {
		c.mu.Unlock()
		return
	}
	c.setStateLocked(stateClosing)
	push := c.scheduleLocked()
	c.mu.Unlock()
	if push {
		c.srv.flushq.push(c)
	}
}

// Defer tells the loop that the current request's reply will come later,
// from another goroutine: further requests on the connection wait. Call it
// from the handler; the other goroutine calls Reply (or StartStream) and
// then Resume.
func (c *Conn) Defer() {
	c.mu.Lock()
	if c.state() == stateRequest {
		c.setStateLocked(stateDeferred)
	}
	c.mu.Unlock()
}

// Undefer takes back a Defer made by the current handler, whose answer
// came at once after all: the handler replies and returns as usual. Call
// it only from the handler that called Defer, before it returns.
func (c *Conn) Undefer() {
	c.mu.Lock()
	if c.state() == stateDeferred {
		c.setStateLocked(stateRequest)
	}
	c.mu.Unlock()
}

// Resume ends a Defer: it writes what was queued and serves any request
// that arrived meanwhile. Call it from the goroutine that replied.
func (c *Conn) Resume() {
	c.rmu.Lock()
	c.mu.Lock()
	if c.state() == stateDeferred {
		c.setStateLocked(stateRequest)
	}
	c.mu.Unlock()
	c.serveCarry()
	c.requestsServed() // re-arm the idle or header timeout
	c.rmu.Unlock()
	c.flushOwn()
}

// IsStream reports whether StartStream was called.
func (c *Conn) IsStream() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streamed
}

// setReason records the first reason given for closing.
func (c *Conn) setReason(r CloseReason) {
	c.reason.CompareAndSwap(0, uint32(r)+1)
}

// closeReason returns the recorded reason, ClosePeer if none.
func (c *Conn) closeReason() CloseReason {
	if r := c.reason.Load(); r > 0 {
		return CloseReason(r - 1)
	}
	return ClosePeer
}

// endAfterReply stops reading requests and closes the connection once its
// queue is written.
func (c *Conn) endAfterReply(r CloseReason) {
	c.setReason(r)
	c.mu.Lock()
	if c.state() < stateEnding {
		c.setStateLocked(stateEnding)
	}
	c.mu.Unlock()
}

// onNetpollClose is the close callback registered at prepare time. netpoll
// runs it once, never concurrently with OnRequest, before it closes the fd
// and frees its buffers; holding wmu here means no write is in flight and
// none can start.
func (c *Conn) onNetpollClose(netpoll.Connection) error {
	c.wmu.Lock()
	c.mu.Lock()
	c.setStateLocked(stateClosed)
	queue := c.queue
	c.queue, c.off, c.pending, c.whole, c.lines = nil, 0, 0, 0, nil
	onClose, streamed := c.onClose, c.streamed
	c.onClose, c.onDrain = nil, nil
	c.mu.Unlock()
	if c.wpollArmed {
		c.srv.wpoll.remove(c)
		c.wpollArmed = false
	}
	c.wmu.Unlock()

	for _, f := range queue {
		f.Release()
	}
	c.srv.timers.connClosed(c)
	if onClose != nil {
		onClose()
	}
	if c.rmu.TryLock() { // else a Resume holds it and the buffer goes to the GC
		if c.carry != nil {
			bytebufferpool.Put(c.carry)
			c.carry = nil
		}
		c.rmu.Unlock()
	}
	c.srv.connClosed(c, streamed)
	return nil
}
