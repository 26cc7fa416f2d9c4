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

// reply queues a complete response with body. extra are header name/value
// pairs.
func (b *Broker) reply(c *loop.Conn, req *httpx.Request, status int, contentType string, body []byte, extra ...string) {
	ka := b.keepAlive(req)
	f := ring.NewFrame()
	f.SetBytes(httpx.AppendResponse(f.Buf(), status, ka, contentType, body, extra...))
	c.Reply(f, ka)
}

// replyJSON queues a 200 response with a JSON body.
func (b *Broker) replyJSON(c *loop.Conn, req *httpx.Request, body []byte) {
	b.reply(c, req, 200, "application/json", body)
}

// replyError queues a JSON error response {"error":msg}.
func (b *Broker) replyError(c *loop.Conn, req *httpx.Request, status int, msg string, extra ...string) {
	ka := b.keepAlive(req)
	f := ring.NewFrame()
	f.SetBytes(httpx.AppendError(f.Buf(), status, ka, msg, extra...))
	c.Reply(f, ka)
}

// replyDenied answers a failed authorization: 401 with a Bearer challenge,
// or 403.
func (b *Broker) replyDenied(c *loop.Conn, req *httpx.Request, d decision) {
	if d == unauthenticated {
		b.replyError(c, req, 401, "unauthorized", "WWW-Authenticate", "Bearer")
		return
	}
	b.replyError(c, req, 403, "forbidden")
}
