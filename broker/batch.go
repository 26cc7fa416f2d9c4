package broker

import (
	"bytes"
	"crypto/subtle"
	"strconv"

	"github.com/workkit/realtime/channel"
	"github.com/workkit/realtime/httpx"
	"github.com/workkit/realtime/loop"
)

// maxBatch is the largest batch of SPEC 3.4.
const maxBatch = 1000

// Errors of batch items.
const (
	errItemChannel  = "channel is required and must be a valid channel name"
	errItemNotAllow = "forbidden"
)

// publishBatch serves POST /publish (SPEC 3.4): a JSON array of
// {"channel","event","data"}, each validated and authorized on its own;
// the answer is an array of the same length, each {"delivered","id"} or
// {"error"}. A request without a valid credential is refused as a whole.
func (b *Broker) publishBatch(c *loop.Conn, req *httpx.Request) {
	if !isMethod(req, "POST") {
		b.methodNotAllowed(c, req, "POST")
		return
	}
	if req.ContentLength < 0 {
		b.replyError(c, req, 411, "Content-Length required")
		return
	}
	scope, d := b.publisherScope(req)
	if d != allowed {
		b.replyDenied(c, req, d)
		return
	}
	buf := jsonBufPool.Get().(*bytes.Buffer)
	defer jsonBufPool.Put(buf)
	if err := compactJSON(buf, req.Body); err != nil {
		b.replyError(c, req, 400, err.Error())
		return
	}
	items := 0
	if err := eachElement(buf.Bytes(), func([]byte) error { items++; return nil }); err != nil {
		b.replyError(c, req, 400, err.Error())
		return
	}
	if items > maxBatch {
		b.replyError(c, req, 400, "a batch holds at most 1000 items")
		return
	}
	batch := make([]channel.BatchItem, 0, items)
	_ = eachElement(buf.Bytes(), func(el []byte) error {
		batch = append(batch, b.batchItem(el, scope))
		return nil
	})
	if b.local {
		_ = b.eng.PublishBatch(batch, nil)
		b.replyJSON(c, req, appendBatch(batch))
		return
	}
	pk := b.park(c, req, nil, false)
	err := b.eng.PublishBatch(batch, func() {
		pk.ready()
		b.replyJSON(pk.c, pk.req, appendBatch(batch))
		pk.resume()
	})
	if pending(err) {
		pk.detach()
		return
	}
	pk.answered()
	b.replyJSON(c, req, appendBatch(batch))
}

// itemError is the refusal of one batch item; its text is the item's
// {"error"}.
type itemError string

func (e itemError) Error() string { return string(e) }

// batchItem validates and authorizes one batch item; a refused one carries
// its Err.
func (b *Broker) batchItem(el []byte, scope pubScope) channel.BatchItem {
	ev, err := parseEvent(el)
	it := channel.BatchItem{Channel: ev.channel, Event: ev.name, Data: ev.data}
	switch {
	case err == errNotObject:
		it.Err = itemError("item must be a JSON object")
	case len(ev.channel) == 0 || !b.validChannel(ev.channel):
		it.Err = itemError(errItemChannel)
	case err != nil:
		it.Err = itemError(err.Error())
	case !scope.may(ev.channel):
		b.stats.denied403.Add(1)
		it.Err = itemError(errItemNotAllow)
	}
	return it
}

// appendBatch renders the answer of a batch: one {"delivered","id"} or
// {"error"} per item.
func appendBatch(batch []channel.BatchItem) []byte {
	out := append(make([]byte, 0, 32*len(batch)+2), '[')
	for i, it := range batch {
		if i > 0 {
			out = append(out, ',')
		}
		switch e := it.Err.(type) {
		case nil:
			out = appendPublished(out, it.Result.Delivered, it.Result.ID)
		case itemError:
			out = appendItemError(out, string(e))
		default:
			out = appendItemError(out, engineErrorText(e))
		}
	}
	return append(out, ']')
}

// engineErrorText is the {"error"} of a batch item an engine refused.
func engineErrorText(err error) string {
	if err == channel.ErrTooManyChannels {
		return "too many channels: try again later"
	}
	return "service unavailable: try again later"
}

func appendItemError(dst []byte, msg string) []byte {
	dst = append(dst, `{"error":`...)
	dst = httpx.AppendJSONString(dst, msg)
	return append(dst, '}')
}

// pubScope is what a publisher's credential covers.
type pubScope struct {
	all    bool    // --publish-key or --auth none: every channel
	claims *Claims // else a JWT's publish claim
}

// may reports whether the scope covers channel.
func (p pubScope) may(channel []byte) bool {
	return p.all || (p.claims != nil && p.claims.Publish.MatchBytes(channel))
}

// publisherScope checks the bearer of a publish request once and returns
// which channels it may publish to.
func (b *Broker) publisherScope(req *httpx.Request) (pubScope, decision) {
	if b.cfg.Auth == "none" {
		return pubScope{all: true}, allowed
	}
	tok := bearer(req)
	if len(tok) == 0 {
		return pubScope{}, unauthenticated
	}
	if k := b.cfg.PublishKey; k != "" && subtle.ConstantTimeCompare(tok, []byte(k)) == 1 {
		return pubScope{all: true}, allowed
	}
	if b.jwt == nil {
		return pubScope{}, unauthenticated
	}
	claims, err := b.jwt.VerifyBytes(tok)
	if err != nil {
		return pubScope{}, unauthenticated
	}
	return pubScope{claims: claims}, allowed
}

// appendInfo appends the channel info of SPEC 3.6.
func appendInfo(dst []byte, name []byte, subscribers int, last, oldest uint64, buffered int) []byte {
	dst = append(dst, `{"channel":`...)
	dst = httpx.AppendJSONString(dst, string(name)) // a custom --channel-pattern may allow any character
	dst = append(dst, `,"subscribers":`...)
	dst = strconv.AppendInt(dst, int64(subscribers), 10)
	dst = append(dst, `,"lastId":`...)
	dst = strconv.AppendUint(dst, last, 10)
	dst = append(dst, `,"oldestId":`...)
	dst = strconv.AppendUint(dst, oldest, 10)
	dst = append(dst, `,"buffered":`...)
	dst = strconv.AppendInt(dst, int64(buffered), 10)
	return append(dst, '}')
}
