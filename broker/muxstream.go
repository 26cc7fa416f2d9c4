package broker

import (
	"time"

	"github.com/workkit/realtime/channel"
	"github.com/workkit/realtime/httpx"
	"github.com/workkit/realtime/loop"
	"github.com/workkit/realtime/ring"
)

// subscribeMux serves GET /sse?channel=a&channel=b... (SPEC 3.8).
func (b *Broker) subscribeMux(c *loop.Conn, req *httpx.Request) {
	if !isMethod(req, "GET") {
		b.methodNotAllowed(c, req, "GET")
		return
	}
	if mr, ok := b.parseMux(c, req); ok {
		b.authorizeAll(c, req, mr, b.startMux)
	}
}

// startMux subscribes a multiplexed stream to every channel of mr, then
// opens it, or answers the first refusal naming its channel (no frame of
// the stream was sent then).
func (b *Broker) startMux(c *loop.Conn, req *httpx.Request, mr muxRequest, grants []Grant, deferred bool) bool {
	if b.srv.Draining() {
		b.replyError(c, req, 503, "shutting down", "Retry-After", "1")
		return false
	}
	head := ring.NewFrame()
	head.SetBytes(appendStreamHead(head.Buf(), b.corsHeaders(req)))
	stream := channel.NewMuxStream(c, mr.strings())
	c.BindCursor(stream) // c writes the stream's cursor line before each of its frames
	n := len(mr.names)
	subs, errs := make([]*channel.Subscription, n), make([]error, n)
	rc, rreq := c, req // where the answer goes: copies when it may come later
	var pk *parked
	if !b.local {
		pk = b.park(c, req, nil, deferred)
		pk.detach() // answers may come before the last subscription is even asked for
		rreq = pk.req
	}
	retry := b.streamRetry()
	fan := newFanIn(n, func(inline bool) {
		if pk != nil && inline {
			pk.answered()
		}
		b.openMux(rc, rreq, mr, stream, head, retry, subs, errs, grants)
		if pk != nil && !inline {
			pk.resume()
		}
	})
	for i := range mr.names {
		open := channel.Open{Last: mr.pos[i], HasLast: mr.has[i], Mux: true, Principal: grants[i].Principal}
		sub, err := b.eng.Subscribe(mr.names[i], stream.Member(i), open, func(sub *channel.Subscription, err error) {
			subs[i], errs[i] = sub, err
			fan.later()
		})
		if !pending(err) {
			subs[i], errs[i] = sub, err
			fan.count()
		}
	}
	return fan.issued()
}

// openMux opens a stream whose subscriptions are all answered, or refuses
// it.
func (b *Broker) openMux(c *loop.Conn, req *httpx.Request, mr muxRequest, stream *channel.MuxStream, head *ring.Frame,
	retry time.Duration, subs []*channel.Subscription, errs []error, grants []Grant) {
	cancel := func() {
		for _, s := range subs {
			if s != nil {
				s.Cancel()
			}
		}
	}
	for i, err := range errs {
		if err != nil {
			cancel()
			stream.Discard()
			head.Release()
			b.replyMuxEngineError(c, req, err, mr.names[i])
			return
		}
	}
	for i, s := range subs {
		pos := s.Joined()
		if mr.has[i] {
			pos = mr.pos[i]
		}
		stream.Start(i, pos)
	}
	stream.Open(head, retry)
	c.StartStream(cancel)
	var expires Grant
	for _, g := range grants {
		if !g.Expires.IsZero() && (expires.Expires.IsZero() || g.Expires.Before(expires.Expires)) {
			expires = g
		}
	}
	if !expires.Expires.IsZero() {
		c.ExpireAt(closeBefore(expires, time.Now()))
	}
}

// replyMuxEngineError is replyEngineError naming the channel refused.
func (b *Broker) replyMuxEngineError(c *loop.Conn, req *httpx.Request, err error, name []byte) {
	switch err {
	case channel.ErrFull:
		b.replyChannelError(c, req, 429, "channel subscriber limit reached", name, "Retry-After", "5")
	case channel.ErrTooManyChannels:
		b.replyChannelError(c, req, 503, "too many channels: try again later", name, "Retry-After", "5")
	default:
		b.replyChannelError(c, req, 503, "service unavailable: try again later", name, "Retry-After", "1")
	}
}
