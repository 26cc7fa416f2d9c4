package loop

import (
	"errors"
	"sync"

	"github.com/valyala/bytebufferpool"
	"github.com/workkit/realtime/httpx"
	"github.com/workkit/realtime/ring"
)

var requestPool = sync.Pool{New: func() any { return new(httpx.Request) }}

// readInput handles bytes netpoll read for c: whole requests are served in
// order (pipelining), an incomplete one is kept in c.carry for the next
// call. c.rmu is held; buf is valid only during the call.
func (c *Conn) readInput(buf []byte) {
	if c.carry == nil {
		if used := c.serve(buf); used < len(buf) && !c.ending.Load() && !c.IsStream() {
			c.carry = bytebufferpool.Get()
			c.carry.B = append(c.carry.B[:0], buf[used:]...)
		}
	} else {
		c.carry.B = append(c.carry.B, buf...)
		c.serveCarry()
	}
	c.requestsServed()
}

// serveCarry serves what c.carry holds and keeps the rest. c.rmu is held.
func (c *Conn) serveCarry() {
	if c.carry == nil || c.deferred.Load() {
		c.checkCarry()
		return
	}
	used := c.serve(c.carry.B)
	n := copy(c.carry.B, c.carry.B[used:])
	c.carry.B = c.carry.B[:n]
	if n == 0 || c.ending.Load() {
		bytebufferpool.Put(c.carry)
		c.carry = nil
	}
}

// checkCarry bounds what a connection may buffer while a reply is deferred:
// at most one maximal request.
func (c *Conn) checkCarry() {
	if c.carry != nil && len(c.carry.B) > c.srv.cfg.MaxHeaderBytes+c.srv.cfg.MaxBodyBytes {
		c.ending.Store(true)
		c.Close(CloseBadRequest)
	}
}

// requestsServed re-arms the request timers after input was handled.
func (c *Conn) requestsServed() {
	switch {
	case c.IsStream() || c.ending.Load():
	case c.deferred.Load():
		c.srv.timers.deferred(c)
	default:
		c.srv.timers.requestsServed(c, c.carry != nil)
	}
}

// serve parses and handles the complete requests at the start of buf and
// returns the bytes used. It stops at an incomplete request, a deferred
// reply, a stream start, or a connection that is ending. c.rmu is held.
func (c *Conn) serve(buf []byte) int {
	req := requestPool.Get().(*httpx.Request)
	req.MaxHeaderBytes, req.MaxBodyBytes = c.srv.cfg.MaxHeaderBytes, c.srv.cfg.MaxBodyBytes
	off := 0
	for off < len(buf) && !c.deferred.Load() && !c.ending.Load() && !c.IsStream() {
		n, err := req.Parse(buf[off:])
		if errors.Is(err, httpx.ErrNeedMore) {
			break
		}
		if err != nil {
			c.reject(httpx.StatusOf(err), err, CloseBadRequest)
			off = len(buf)
			break
		}
		off += n
		c.dispatch(req)
	}
	req.Reset()
	requestPool.Put(req)
	return off
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
	c.enqueue(f, false)
	c.endAfterReply(reason)
}
