package broker

import (
	"github.com/workkit/realtime/channel"
	"github.com/workkit/realtime/httpx"
	"github.com/workkit/realtime/loop"
)

// parked is a request whose answer a remote engine gives later, on its own
// goroutine: the connection is deferred (no other request on it is served
// meanwhile) and the request copied, so the answer can be written from
// there. No goroutine waits for it.
type parked struct {
	b    *Broker
	c    *loop.Conn
	req  *httpx.Request // a copy owned by the parked request
	name []byte         // a copy of the channel name
	own  bool           // this handler deferred the connection (it was not deferred already)
}

// park prepares req on c for an answer that may come later. deferred says
// the connection is deferred already (an authorization ran off the
// reactor): then its goroutine resumes it, unless the answer is pending.
func (b *Broker) park(c *loop.Conn, req *httpx.Request, name []byte, deferred bool) *parked {
	if !deferred {
		c.Defer()
	}
	return &parked{b: b, c: c, req: cloneRequest(req), name: []byte(string(name)), own: !deferred}
}

// answered is called when the engine answered at once (err is not
// channel.ErrPending): the connection is taken back from its Defer if this
// handler made it, and the caller replies as usual.
func (p *parked) answered() {
	if p.own {
		p.c.Undefer()
	}
}

// resume ends a pending answer once it has been queued.
func (p *parked) resume() { p.c.Resume() }

// pending reports whether err means the answer comes later.
func pending(err error) bool { return err == channel.ErrPending }

// replyEngineError answers a request an engine refused.
func (b *Broker) replyEngineError(c *loop.Conn, req *httpx.Request, err error) {
	switch err {
	case channel.ErrFull:
		b.replyError(c, req, 429, "channel subscriber limit reached", "Retry-After", "5")
	case channel.ErrTooManyChannels:
		b.replyError(c, req, 503, "too many channels: try again later", "Retry-After", "5")
	case channel.ErrNoChannel:
		b.replyError(c, req, 404, "no such channel")
	default: // channel.ErrUnavailable
		b.replyError(c, req, 503, "service unavailable: try again later", "Retry-After", "1")
	}
}
