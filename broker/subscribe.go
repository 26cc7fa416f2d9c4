package broker

import (
	"math/rand/v2"
	"time"

	"github.com/workkit/realtime/channel"
	"github.com/workkit/realtime/httpx"
	"github.com/workkit/realtime/loop"
	"github.com/workkit/realtime/ring"
)

// subscribe serves GET /sse/{channel} (SPEC 3.1): validate, authorize,
// then register the connection as a stream, with the replay or reset of
// SPEC 3.2 sent atomically before live events.
func (b *Broker) subscribe(c *loop.Conn, req *httpx.Request, name []byte) {
	if !b.checkChannelRequest(c, req, "GET", name) {
		return
	}
	b.authorizeThen(c, req, name, b.startStream)
}

// startStream joins channel name and turns c into its event stream, once
// authorization decided d.
func (b *Broker) startStream(c *loop.Conn, req *httpx.Request, name []byte, d decision, grant Grant, deferred bool) bool {
	if d != allowed {
		b.replyDenied(c, req, d)
		return false
	}
	if b.srv.Draining() {
		b.replyError(c, req, 503, "shutting down", "Retry-After", "1")
		return false
	}
	last, hasLast := lastEventID(req)
	head := ring.NewFrame()
	if cors := b.corsHeaders(req); cors != nil {
		head.SetBytes(appendStreamHead(head.Buf(), cors))
	} else {
		head.SetBytes(append(head.Buf(), b.streamHead...))
	}
	open := channel.Open{Last: last, HasLast: hasLast, Head: head, Retry: b.streamRetry(), Principal: grant.Principal}
	if b.local {
		sub, err := b.eng.Subscribe(name, c, open, nil)
		head.Release()
		b.streamStarted(c, req, sub, grant, err)
		return false
	}
	pk := b.park(c, req, name, deferred)
	sub, err := b.eng.Subscribe(name, c, open, func(sub *channel.Subscription, err error) {
		pk.ready()
		head.Release()
		b.streamStarted(pk.c, pk.req, sub, grant, err)
		pk.resume()
	})
	if pending(err) {
		pk.detach()
		return true
	}
	head.Release()
	pk.answered()
	b.streamStarted(c, req, sub, grant, err)
	return false
}

// streamStarted makes c the stream of subscription sub, or answers the
// engine's refusal.
func (b *Broker) streamStarted(c *loop.Conn, req *httpx.Request, sub *channel.Subscription, grant Grant, err error) {
	if err != nil {
		b.replyEngineError(c, req, err)
		return
	}
	c.StartStream(sub.Cancel)
	if !grant.Expires.IsZero() {
		c.ExpireAt(closeBefore(grant, time.Now()))
	}
}

// streamRetry is the retry hint of one stream: --retry jittered by up to
// ±25 %, so clients dropped together do not come back together (SPEC 3.1).
func (b *Broker) streamRetry() time.Duration {
	r := b.cfg.Retry
	if r <= 0 {
		return 0
	}
	return r - r/4 + time.Duration(rand.Int64N(int64(r/2)+1))
}

// closeBefore returns when to end a stream whose credential expires at
// g.Expires: a random moment in the last tenth of its lifetime (at most
// 30 s before the expiry), so that the streams of tokens minted together
// do not all reconnect in the same instant (SPEC 4).
func closeBefore(g Grant, now time.Time) time.Time {
	issued := g.Issued
	if issued.IsZero() || issued.After(now) {
		issued = now
	}
	window := min(30*time.Second, g.Expires.Sub(issued)/10)
	if window <= 0 {
		return g.Expires
	}
	return g.Expires.Add(-time.Duration(rand.Int64N(int64(window))))
}

// lastEventID returns the client's last id: the Last-Event-ID header, else
// the lastEventId query parameter; a value that is not a non-negative
// decimal integer is ignored.
func lastEventID(req *httpx.Request) (uint64, bool) {
	if v := req.Header("Last-Event-ID"); v != nil {
		if id, ok := parseID(v); ok {
			return id, true
		}
	}
	if v, ok := req.Query("lastEventId"); ok {
		return parseID(v)
	}
	return 0, false
}

// appendStreamHead appends the response head of an event stream (no
// Content-Length, no chunking: the body runs until the connection closes)
// with extra headers. The channel appends the stream's first frame.
func appendStreamHead(dst []byte, extra []string) []byte {
	dst = httpx.AppendStatusLine(dst, 200)
	dst = httpx.AppendHeader(dst, "Content-Type", "text/event-stream; charset=utf-8")
	dst = httpx.AppendHeader(dst, "Cache-Control", "no-cache, no-transform")
	dst = httpx.AppendHeader(dst, "X-Accel-Buffering", "no")
	for i := 0; i+1 < len(extra); i += 2 {
		dst = httpx.AppendHeader(dst, extra[i], extra[i+1])
	}
	return append(dst, "\r\n"...)
}

// goodbye queues the shutdown frame of a stream: a retry hint with a
// jittered delay, so clients do not all reconnect at once (SPEC 5).
func (b *Broker) goodbye(c *loop.Conn) {
	f := ring.NewFrame()
	f.SetBytes(channel.AppendRetry(f.Buf(), jitter(b.cfg.Retry).Milliseconds()))
	c.Replay(f) // takes over our reference; a last frame, delivered whole
}
