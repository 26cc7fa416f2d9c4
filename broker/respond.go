package broker

import (
	"github.com/workkit/realtime/httpx"
	"github.com/workkit/realtime/loop"
	"github.com/workkit/realtime/ring"
)

// keepAlive reports whether the connection stays open after the reply.
func (b *Broker) keepAlive(req *httpx.Request) bool {
	return req.KeepAlive && !b.srv.Draining()
}

// withCORS appends the CORS headers for req (if any) to extra.
func (b *Broker) withCORS(req *httpx.Request, extra []string) []string {
	if cors := b.corsHeaders(req); cors != nil {
		return append(cors, extra...)
	}
	return extra
}

// reply queues a complete response with body. extra are header name/value
// pairs.
func (b *Broker) reply(c *loop.Conn, req *httpx.Request, status int, contentType string, body []byte, extra ...string) {
	b.replyRaw(c, b.keepAlive(req), status, contentType, body, b.withCORS(req, extra))
}

// replyRaw queues a response with exactly the given headers.
func (b *Broker) replyRaw(c *loop.Conn, keepAlive bool, status int, contentType string, body []byte, extra []string) {
	f := ring.NewFrame()
	f.SetBytes(httpx.AppendResponse(f.Buf(), status, keepAlive, contentType, body, extra...))
	c.Reply(f, keepAlive)
}

// replyJSON queues a 200 response with a JSON body.
func (b *Broker) replyJSON(c *loop.Conn, req *httpx.Request, body []byte) {
	b.reply(c, req, 200, "application/json", body)
}

// replyError queues a JSON error response {"error":msg}.
func (b *Broker) replyError(c *loop.Conn, req *httpx.Request, status int, msg string, extra ...string) {
	ka := b.keepAlive(req)
	f := ring.NewFrame()
	f.SetBytes(httpx.AppendError(f.Buf(), status, ka, msg, b.withCORS(req, extra)...))
	c.Reply(f, ka)
}

// replyDenied answers a failed authorization and counts it: 401 with a
// Bearer challenge, 403, or 503 with Retry-After when the authorizer
// failed (SPEC 4: a failure never allows, and never stops a client for
// good).
func (b *Broker) replyDenied(c *loop.Conn, req *httpx.Request, d decision) {
	switch d {
	case unauthenticated:
		b.stats.denied401.Add(1)
		b.replyError(c, req, 401, "unauthorized", "WWW-Authenticate", "Bearer")
	case unavailable:
		b.stats.denied503.Add(1)
		b.replyError(c, req, 503, "authorization unavailable: try again later", "Retry-After", "1")
	default:
		b.stats.denied403.Add(1)
		b.replyError(c, req, 403, "forbidden")
	}
}

// methodNotAllowed answers 405 with the Allow header.
func (b *Broker) methodNotAllowed(c *loop.Conn, req *httpx.Request, allow string) {
	b.replyError(c, req, 405, "method not allowed", "Allow", allow)
}

// checkChannelRequest answers a request on /<endpoint>/{channel} that has
// the wrong method (405) or an invalid channel name (400), and reports
// whether the request may go on.
func (b *Broker) checkChannelRequest(c *loop.Conn, req *httpx.Request, method string, name []byte) bool {
	switch {
	case !isMethod(req, method):
		b.methodNotAllowed(c, req, method)
	case !b.validChannel(name):
		b.replyError(c, req, 400, "invalid channel name")
	default:
		return true
	}
	return false
}
