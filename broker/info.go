package broker

import (
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
	ch := b.reg.Lookup(name)
	if ch == nil {
		b.replyError(c, req, 404, "no such channel")
		return
	}
	i := ch.Info()
	var buf [256]byte
	b.replyJSON(c, req, appendInfo(buf[:0], name, i.Subscribers, i.LastID, i.OldestID, i.Buffered))
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
