package broker

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/workkit/realtime/channel"
	"github.com/workkit/realtime/httpx"
	"github.com/workkit/realtime/loop"
)

// Presence and revocation (SPEC 3.9), for publishers: who is subscribed to
// a channel, and ending streams now rather than at their token's expiry.
// Each request is authorized like a publish to the channel it names; one
// that names no channel (a principal cut off everywhere) needs a
// credential for every channel (--publish-key, or a JWT whose publish
// claim holds "*").

// channels routes /channels/{channel}[/presence].
func (b *Broker) channels(c *loop.Conn, req *httpx.Request, rest []byte) {
	if name, ok := bytes.CutSuffix(rest, []byte("/presence")); ok {
		b.presence(c, req, name)
		return
	}
	if isMethod(req, "DELETE") {
		b.deleteChannel(c, req, rest)
		return
	}
	b.channelInfo(c, req, rest)
}

// presence serves GET /channels/{channel}/presence.
func (b *Broker) presence(c *loop.Conn, req *httpx.Request, name []byte) {
	if !b.checkChannelRequest(c, req, "GET", name) {
		return
	}
	if d := b.authorizePublish(name, req); d != allowed {
		b.replyDenied(c, req, d)
		return
	}
	answerFromEngine(b, c, req, name, func(done func(channel.Presence, error)) (channel.Presence, error) {
		return b.eng.Presence(name, done)
	}, b.replyPresence)
}

// replyPresence answers a presence request:
// {"channel":"..","subscribers":N,"principals":[{"principal":"u1","streams":2},...][,"truncated":true]}.
func (b *Broker) replyPresence(c *loop.Conn, req *httpx.Request, name []byte, p channel.Presence, err error) {
	if err != nil {
		b.replyEngineError(c, req, err)
		return
	}
	b.replyJSON(c, req, appendPresence(nil, name, p))
}

func appendPresence(dst, name []byte, p channel.Presence) []byte {
	dst = append(dst, `{"channel":`...)
	dst = httpx.AppendJSONString(dst, string(name))
	dst = append(dst, `,"subscribers":`...)
	dst = strconv.AppendInt(dst, int64(p.Subscribers), 10)
	dst = append(dst, `,"principals":[`...)
	for i, pc := range p.Principals {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"principal":`...)
		dst = httpx.AppendJSONString(dst, pc.Principal)
		dst = append(dst, `,"streams":`...)
		dst = strconv.AppendInt(dst, int64(pc.Streams), 10)
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if p.Truncated {
		dst = append(dst, `,"truncated":true`...)
	}
	return append(dst, '}')
}

// deleteChannel serves DELETE /channels/{channel}.
func (b *Broker) deleteChannel(c *loop.Conn, req *httpx.Request, name []byte) {
	if !b.checkChannelRequest(c, req, "DELETE", name) {
		return
	}
	if d := b.authorizePublish(name, req); d != allowed {
		b.replyDenied(c, req, d)
		return
	}
	answerFromEngine(b, c, req, name, func(done func(int, error)) (int, error) {
		return b.eng.Delete(name, done)
	}, b.replyClosed)
}

// disconnect serves POST /disconnect with {"principal":"u1"} and/or
// {"channel":"c"}.
func (b *Broker) disconnect(c *loop.Conn, req *httpx.Request) {
	if !isMethod(req, "POST") {
		b.methodNotAllowed(c, req, "POST")
		return
	}
	v, msg := b.parseRevocation(req.Body)
	if msg != "" {
		b.replyError(c, req, 400, msg)
		return
	}
	scope, d := b.publisherScope(req)
	if d == allowed && !(v.Channel != nil && scope.may(v.Channel) || scope.mayAll()) {
		d = forbidden
	}
	if d != allowed {
		b.replyDenied(c, req, d)
		return
	}
	answerFromEngine(b, c, req, nil, func(done func(int, error)) (int, error) {
		return b.eng.Disconnect(v, done)
	}, b.replyClosed)
}

// parseRevocation decodes a disconnect's body; msg says what is wrong.
func (b *Broker) parseRevocation(body []byte) (v channel.Revocation, msg string) {
	var in struct {
		Principal *string `json:"principal"`
		Channel   *string `json:"channel"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || dec.More() {
		return v, `body must be {"principal":"..."} and/or {"channel":"..."}`
	}
	if in.Principal == nil && in.Channel == nil {
		return v, "principal or channel is required"
	}
	if in.Principal != nil {
		v.Principal, v.HasPrincipal = *in.Principal, true
	}
	if in.Channel != nil {
		if !b.validChannel([]byte(*in.Channel)) {
			return v, "invalid channel name"
		}
		v.Channel = []byte(*in.Channel)
	}
	return v, ""
}

// replyClosed answers a revocation: {"closed":N}.
func (b *Broker) replyClosed(c *loop.Conn, req *httpx.Request, _ []byte, n int, err error) {
	if err != nil {
		b.replyEngineError(c, req, err)
		return
	}
	out := strconv.AppendInt([]byte(`{"closed":`), int64(n), 10)
	b.replyJSON(c, req, append(out, '}'))
}

// mayAll reports whether the scope covers every channel.
func (p pubScope) mayAll() bool {
	return p.all || (p.claims != nil && slices.Contains(p.claims.Publish, "*"))
}
