package broker

import (
	"sync"

	"github.com/workkit/realtime/channel"
	"github.com/workkit/realtime/httpx"
	"github.com/workkit/realtime/loop"
)

// parked is a request whose answer a remote engine may give later, on its
// own goroutine: the connection is deferred (no other request on it is
// served meanwhile). No goroutine waits for it. The request and channel
// name point into the connection's input, which is reused once the handler
// returns: only when the answer is pending does the handler copy them
// (detach), so a subscribe that a mirror answers at once copies nothing.
// The engine's callback calls ready first, which waits for those copies.
// (Engines never call back on the calling goroutine: channel.ErrPending.)
type parked struct {
	b   *Broker
	c   *loop.Conn
	own bool // this handler deferred the connection (it was not deferred already)

	mu       sync.Mutex     // held from park until answered or detach
	req      *httpx.Request // after detach: a copy owned by the parked request
	name     []byte         // after detach: a copy of the channel name
	detached bool           // written before mu is released, by the handler
}

// park prepares req on c for an answer that may come later. deferred says
// the connection is deferred already (an authorization ran off the
// reactor, on a copy of the request): then its goroutine resumes it,
// unless the answer is pending.
func (b *Broker) park(c *loop.Conn, req *httpx.Request, name []byte, deferred bool) *parked {
	if !deferred {
		c.Defer()
	}
	p := &parked{b: b, c: c, req: req, name: name, own: !deferred}
	p.mu.Lock()
	return p
}

// detach is called by the handler when the answer is pending, before it
// returns: it copies what the answer needs and lets the callback run.
func (p *parked) detach() {
	if p.own { // else req is already a copy, owned by the authorizing goroutine
		p.req = cloneRequest(p.req)
	}
	p.name = []byte(string(p.name))
	p.detached = true
	p.mu.Unlock()
}

// ready waits until the handler has detached: the callback may then use
// p.req and p.name.
func (p *parked) ready() {
	p.mu.Lock()
	p.mu.Unlock() //nolint:staticcheck // an empty critical section: a barrier
}

// answered is called when the engine answered at once (err is not
// channel.ErrPending): the connection is taken back from its Defer if this
// handler made it, and the caller replies as usual.
func (p *parked) answered() {
	if p.own {
		p.c.Undefer()
	}
	if !p.detached {
		p.mu.Unlock()
	}
}

// resume ends a pending answer once it has been queued.
func (p *parked) resume() { p.c.Resume() }

// engineReply writes the answer of an engine call (or its refusal) on c.
type engineReply[T any] func(c *loop.Conn, req *httpx.Request, name []byte, v T, err error)

// answerFromEngine runs call, an engine method that may answer later, and
// answers req with reply: at once, or from the engine's goroutine with the
// connection parked meanwhile. For requests off the hot path (a closure
// per call): publish and subscribe spell it out.
func answerFromEngine[T any](b *Broker, c *loop.Conn, req *httpx.Request, name []byte,
	call func(done func(T, error)) (T, error), reply engineReply[T]) {
	if b.local {
		v, err := call(nil)
		reply(c, req, name, v, err)
		return
	}
	pk := b.park(c, req, name, false)
	v, err := call(func(v T, err error) {
		pk.ready()
		reply(pk.c, pk.req, pk.name, v, err)
		pk.resume()
	})
	if pending(err) {
		pk.detach()
		return
	}
	pk.answered()
	reply(c, req, name, v, err)
}

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
