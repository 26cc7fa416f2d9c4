package broker

import (
	"bytes"
	"strconv"
	"sync"

	"github.com/workkit/realtime/channel"
	"github.com/workkit/realtime/httpx"
	"github.com/workkit/realtime/loop"
)

var jsonBufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// publish serves POST /publish/{channel} (SPEC 3.3).
func (b *Broker) publish(c *loop.Conn, req *httpx.Request, name []byte) {
	if !b.checkChannelRequest(c, req, "POST", name) {
		return
	}
	if req.ContentLength < 0 {
		b.replyError(c, req, 411, "Content-Length required")
		return
	}
	if d := b.authorizePublish(name, req); d != allowed {
		b.replyDenied(c, req, d)
		return
	}
	buf := jsonBufPool.Get().(*bytes.Buffer)
	defer jsonBufPool.Put(buf)
	if err := compactJSON(buf, req.Body); err != nil {
		b.replyError(c, req, 400, err.Error())
		return
	}
	ev, err := parseEvent(buf.Bytes())
	if err != nil {
		b.replyError(c, req, 400, err.Error())
		return
	}
	if b.local {
		p, err := b.eng.Publish(name, ev.name, ev.data, nil)
		b.replyPublished(c, req, p, err)
		return
	}
	pk := b.park(c, req, name, false)
	p, err := b.eng.Publish(name, ev.name, ev.data, func(p channel.Published, err error) {
		pk.ready()
		b.replyPublished(pk.c, pk.req, p, err)
		pk.resume()
	})
	if pending(err) {
		pk.detach()
		return
	}
	pk.answered()
	b.replyPublished(c, req, p, err)
}

// replyPublished answers a publish: {"delivered":N,"id":ID}, or the
// engine's refusal.
func (b *Broker) replyPublished(c *loop.Conn, req *httpx.Request, p channel.Published, err error) {
	if err != nil {
		b.replyEngineError(c, req, err)
		return
	}
	var out [64]byte
	b.replyJSON(c, req, appendPublished(out[:0], p.Delivered, p.ID))
}

// appendPublished appends {"delivered":N,"id":ID}.
func appendPublished(dst []byte, delivered int, id uint64) []byte {
	dst = append(dst, `{"delivered":`...)
	dst = strconv.AppendInt(dst, int64(delivered), 10)
	dst = append(dst, `,"id":`...)
	dst = strconv.AppendUint(dst, id, 10)
	return append(dst, '}')
}

// authorizePublish checks a publisher's bearer token: the --publish-key,
// or a JWT whose publish claim covers the channel.
func (b *Broker) authorizePublish(name []byte, req *httpx.Request) decision {
	scope, d := b.publisherScope(req)
	if d == allowed && !scope.may(name) {
		return forbidden
	}
	return d
}
