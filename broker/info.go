package broker

import (
	"github.com/workkit/realtime/channel"
	"github.com/workkit/realtime/client"
	"github.com/workkit/realtime/httpx"
	"github.com/workkit/realtime/loop"
)

// channelInfo serves GET /channels/{channel} (SPEC 3.6), for publishers.
func (b *Broker) channelInfo(c *loop.Conn, req *httpx.Request, name []byte) {
	if !b.checkChannelRequest(c, req, "GET", name) {
		return
	}
	if d := b.authorizePublish(name, req); d != allowed {
		b.replyDenied(c, req, d)
		return
	}
	answerFromEngine(b, c, req, name, func(done func(channel.Info, error)) (channel.Info, error) {
		return b.eng.Info(name, done)
	}, b.replyInfo)
}

// replyInfo answers GET /channels/{channel}.
func (b *Broker) replyInfo(c *loop.Conn, req *httpx.Request, name []byte, i channel.Info, err error) {
	if err != nil {
		b.replyEngineError(c, req, err)
		return
	}
	var buf [256]byte
	b.replyJSON(c, req, appendInfo(buf[:0], name, i.Subscribers, i.LastID, i.OldestID, i.Buffered))
}

// readyz serves GET /readyz (SPEC 7): 200 while the engine can serve, 503
// within a second of it being cut off from its store — for load balancers.
func (b *Broker) readyz(c *loop.Conn, req *httpx.Request) {
	if !isMethod(req, "GET") {
		b.methodNotAllowed(c, req, "GET")
		return
	}
	if !b.eng.Ready() {
		b.replyError(c, req, 503, "not ready: the engine cannot reach its store", "Retry-After", "1")
		return
	}
	b.reply(c, req, 200, "text/plain; charset=utf-8", []byte("ready\n"))
}

// script serves GET /realtime.js: the JS client, revalidated by ETag.
func (b *Broker) script(c *loop.Conn, req *httpx.Request) {
	if !isMethod(req, "GET") {
		b.methodNotAllowed(c, req, "GET")
		return
	}
	if inm := req.Header("If-None-Match"); inm != nil && string(inm) == client.ETag {
		b.reply(c, req, 304, "", nil, "ETag", client.ETag, "Cache-Control", "no-cache")
		return
	}
	b.reply(c, req, 200, "text/javascript; charset=utf-8", client.Script, "ETag", client.ETag, "Cache-Control", "no-cache")
}

// demo serves GET /demo and GET /: the demo page (client/demo.html).
func (b *Broker) demo(c *loop.Conn, req *httpx.Request) {
	if !isMethod(req, "GET") {
		b.methodNotAllowed(c, req, "GET")
		return
	}
	b.reply(c, req, 200, "text/html; charset=utf-8", client.DemoPage, "Cache-Control", "no-cache", "X-Content-Type-Options", "nosniff")
}
