package loop

import (
	"errors"
	"sync"

	"github.com/valyala/bytebufferpool"
	"github.com/workkit/realtime/httpx"
	"github.com/workkit/realtime/ring"
)

var requestPool = sync.Pool{New: func() any { return new(httpx.Request) }}

// continueFrame is the interim response to "Expect: 100-continue".
var continueFrame = ring.Static([]byte("HTTP/1.1 100 Continue\r\n\r\n"))

// readInput handles bytes netpoll read for c: whole requests are served in
// order (pipelining), an incomplete one is kept in c.carry for the next
// call. c.rmu is held; buf is valid only during the call.
func (c *Conn) readInput(buf []byte) {
	if c.carry == nil {
		if used := c.serve(buf); used < len(buf) {
			c.keep(buf[used:])
		}
	} else {
		c.carry.B = append(c.carry.B, buf...)
		c.serveCarry()
	}
	c.requestsServed()
}

// keep holds the unserved tail of the input: in c.carry while requests may
// still be served, else it is discarded. c.rmu is held; c.carry is nil.
func (c *Conn) keep(rest []byte) {
	switch c.state() {
	case stateRequest, stateDeferred:
		c.carry = bytebufferpool.Get()
		c.carry.B = append(c.carry.B[:0], rest...)
		c.checkCarry()
	default:
		c.discard(len(rest))
	}
}

// serveCarry serves what c.carry holds and keeps the rest. c.rmu is held.
func (c *Conn) serveCarry() {
	if c.carry == nil {
		return
	}
	switch c.state() {
	case stateRequest:
	case stateDeferred:
		c.checkCarry()
		return
	default: // a stream, or ending: what is left is never read
		c.discard(len(c.carry.B))
		c.dropCarry()
		return
	}
	used := c.serve(c.carry.B)
	n := copy(c.carry.B, c.carry.B[used:])
	c.carry.B = c.carry.B[:n]
	if st := c.state(); n == 0 || st > stateDeferred {
		if n > 0 {
			c.discard(n)
		}
		c.dropCarry()
		return
	}
	c.checkCarry()
}

func (c *Conn) dropCarry() {
	bytebufferpool.Put(c.carry)
	c.carry = nil
}

// inputLimit is the most input a connection may hold: one maximal request
// (SPEC 5).
func (c *Conn) inputLimit() int { return c.srv.cfg.MaxHeaderBytes + c.srv.cfg.MaxBodyBytes }

// checkCarry bounds what a connection may buffer while no request can be
// served (a deferred reply, or output backpressure): at most one maximal
// request. c.rmu is held.
func (c *Conn) checkCarry() {
	if c.carry != nil && len(c.carry.B) > c.inputLimit() {
		c.dropCarry()
		c.Close(CloseBadRequest)
	}
}

// discard counts input that will never be read: what a stream's peer sends
// after its request. A well-behaved client sends nothing; past one maximal
// request the connection is closed, so a peer cannot make netpoll's input
// buffer grow for the life of a stream (SPEC 5). c.rmu is held.
func (c *Conn) discard(n int) {
	c.discarded += n
	if c.discarded > c.inputLimit() {
		c.Close(CloseBadRequest)
	}
}

// requestsServed re-arms the request timers after input was handled.
func (c *Conn) requestsServed() {
	switch c.state() {
	case stateRequest:
		c.srv.timers.requestsServed(c, c.carry != nil)
	case stateDeferred:
		c.srv.timers.deferred(c)
	}
}

// serve parses and handles the complete requests at the start of buf and
// returns the bytes used. It stops at an incomplete request, a deferred
// reply, a stream start, a connection that is ending, or when replies
// already queued exceed MaxPendingBytes (it then pauses input until they
// are written). c.rmu is held.
func (c *Conn) serve(buf []byte) int {
	req := requestPool.Get().(*httpx.Request)
	req.MaxHeaderBytes, req.MaxBodyBytes = c.srv.cfg.MaxHeaderBytes, c.srv.cfg.MaxBodyBytes
	off := 0
	for off < len(buf) && c.state().serving() {
		n, err := req.Parse(buf[off:])
		if errors.Is(err, httpx.ErrNeedMore) {
			c.expectContinue(req, err)
			break
		}
		if err != nil {
			c.reject(httpx.StatusOf(err), err, CloseBadRequest)
			off = len(buf)
			break
		}
		off += n
		c.continued = false
		c.dispatch(req)
		c.pauseIfBacklogged()
	}
	req.Reset()
	requestPool.Put(req)
	return off
}

// expectContinue sends "100 Continue" once for a request whose head asked
// for it and whose body has not arrived yet (RFC 9110 10.1.1). c.rmu is
// held.
func (c *Conn) expectContinue(req *httpx.Request, err error) {
	if err == httpx.ErrNeedBody && !c.continued && req.ExpectsContinue() {
		c.continued = true
		c.enqueue(continueFrame, false, false)
	}
}

// pauseIfBacklogged stops serving pipelined requests while the replies
// queued exceed MaxPendingBytes: a reply is never refused, so this bounds
// what a peer that sends requests and reads no answers can make us hold.
// The flush that drains the queue resumes the input. c.rmu is held.
func (c *Conn) pauseIfBacklogged() {
	c.mu.Lock()
	if c.state() == stateRequest && c.pending > c.srv.cfg.MaxPendingBytes {
		c.setStateLocked(stateDeferred)
		c.paused = true
	}
	c.mu.Unlock()
}

// dispatch hands one request to the handler, or answers 503 on a
// connection accepted past MaxConns.
func (c *Conn) dispatch(req *httpx.Request) {
	if c.overload {
		c.reject(503, errOverload, CloseOverload)
		return
	}
	c.srv.handler.ServeRequest(c, req)
}

var errOverload = errors.New("server at connection limit")

// reject answers an error and closes the connection after it.
func (c *Conn) reject(status int, err error, reason CloseReason) {
	msg := err.Error()
	var he *httpx.Error
	if errors.As(err, &he) {
		msg = he.Msg
	}
	f := ring.NewFrame()
	if status == 503 {
		f.SetBytes(httpx.AppendError(f.Buf(), status, false, msg, "Retry-After", "1"))
	} else {
		f.SetBytes(httpx.AppendError(f.Buf(), status, false, msg))
	}
	c.enqueue(f, false, false)
	c.endAfterReply(reason)
}
