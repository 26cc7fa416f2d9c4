package broker

import (
	"strconv"

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
func (b *Broker) startStream(c *loop.Conn, req *httpx.Request, name []byte, d decision, grant Grant) bool {
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
		head.SetBytes(b.appendStreamHead(head.Buf(), cors))
	} else {
		head.SetBytes(append(head.Buf(), b.streamHead...))
	}
	sub, err := b.reg.Subscribe(name, c, last, hasLast, head)
	head.Release()
	if err == channel.ErrFull {
		b.replyError(c, req, 429, "channel subscriber limit reached", "Retry-After", "5")
		return false
	}
	c.StartStream(sub.Cancel)
	if !grant.Expires.IsZero() {
		c.ExpireAt(grant.Expires)
	}
	return false
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
// Content-Length, no chunking: the body runs until the connection closes),
// extra headers, and the first frame, the retry hint.
func (b *Broker) appendStreamHead(dst []byte, extra []string) []byte {
	dst = httpx.AppendStatusLine(dst, 200)
	dst = httpx.AppendHeader(dst, "Content-Type", "text/event-stream; charset=utf-8")
	dst = httpx.AppendHeader(dst, "Cache-Control", "no-cache, no-transform")
	dst = httpx.AppendHeader(dst, "X-Accel-Buffering", "no")
	for i := 0; i+1 < len(extra); i += 2 {
		dst = httpx.AppendHeader(dst, extra[i], extra[i+1])
	}
	dst = append(dst, "\r\n"...)
	return appendRetry(dst, b.cfg.Retry)
}

// appendRetry appends a retry frame: "retry: <ms>\n\n".
func appendRetry(dst []byte, d interface{ Milliseconds() int64 }) []byte {
	dst = append(dst, "retry: "...)
	dst = strconv.AppendInt(dst, d.Milliseconds(), 10)
	return append(dst, "\n\n"...)
}

// goodbye queues the shutdown frame of a stream: a retry hint with a
// jittered delay, so clients do not all reconnect at once (SPEC 5).
func (b *Broker) goodbye(c *loop.Conn) {
	f := ring.NewFrame()
	f.SetBytes(appendRetry(f.Buf(), jitter(b.cfg.Retry)))
	c.Send(f) // takes over our reference
}
