package broker

import (
	"context"
	"sync"

	"github.com/workkit/realtime/channel"
	"github.com/workkit/realtime/httpx"
	"github.com/workkit/realtime/loop"
)

// Multiplexed streams and polls (SPEC 3.8): GET /sse?channel=a&channel=b
// and GET /poll?channel=a&channel=b carry several channels on one
// connection, each resumable under the rules of SPEC 3.2, with one cursor
// (channel.Cursor) for all of them.

// muxRequest is a multiplexed request's channels and where the client is
// in each.
type muxRequest struct {
	names [][]byte // distinct, in request order
	pos   []uint64 // the cursor's position of each, when has
	has   []bool
}

// parseMux reads the channel= parameters and the cursor (the
// Last-Event-ID header, else ?cursor=) of req. It answers and reports
// false when they are unusable: none, more than --max-stream-channels, or
// an invalid name (400, naming it).
func (b *Broker) parseMux(c *loop.Conn, req *httpx.Request) (muxRequest, bool) {
	var mr muxRequest
	seen := map[string]bool{}
	bad := []byte(nil)
	req.QueryEach("channel", func(v []byte) bool {
		switch {
		case !b.validChannel(v):
			bad = []byte(string(v))
			return false
		case !seen[string(v)]:
			seen[string(v)] = true
			mr.names = append(mr.names, []byte(string(v)))
		}
		return len(mr.names) <= b.cfg.MaxStreamChannels
	})
	switch {
	case bad != nil:
		b.replyChannelError(c, req, 400, "invalid channel name", bad)
		return mr, false
	case len(mr.names) == 0:
		b.replyError(c, req, 400, "channel= is required")
		return mr, false
	case len(mr.names) > b.cfg.MaxStreamChannels:
		b.replyError(c, req, 400, "too many channels: at most --max-stream-channels")
		return mr, false
	}
	cursor := req.Header("Last-Event-ID")
	if cursor == nil {
		cursor, _ = req.Query("cursor")
	}
	names := make([]string, len(mr.names))
	for i, n := range mr.names {
		names[i] = string(n)
	}
	mr.pos, mr.has = channel.ParseCursor(cursor, names)
	return mr, true
}

func (mr muxRequest) strings() []string {
	out := make([]string, len(mr.names))
	for i, n := range mr.names {
		out[i] = string(n)
	}
	return out
}

// replyChannelError answers {"error":msg,"channel":name} (SPEC 3.8: a
// multiplexed request's refusal names the channel).
func (b *Broker) replyChannelError(c *loop.Conn, req *httpx.Request, status int, msg string, name []byte, extra ...string) {
	body := append([]byte(`{"error":`), httpx.AppendJSONString(nil, msg)...)
	body = append(append(body, `,"channel":`...), httpx.AppendJSONString(nil, string(name))...)
	body = append(body, '}')
	b.reply(c, req, status, "application/json", body, extra...)
}

// muxAuthorized continues a multiplexed request once every channel is
// authorized: grants holds each channel's grant. Like authorizedFunc, it
// reports whether it parked the request.
type muxAuthorized func(c *loop.Conn, req *httpx.Request, mr muxRequest, grants []Grant, deferred bool) (parked bool)

// authorizeAll authorizes every channel of mr and calls then, or answers
// the first refusal (403 naming the channel, 401, 503). Blocking
// authorizers run off the reactor, one channel after the other.
func (b *Broker) authorizeAll(c *loop.Conn, req *httpx.Request, mr muxRequest, then muxAuthorized) {
	decide := func(req *httpx.Request, async bool) ([]Grant, bool) {
		grants := make([]Grant, len(mr.names))
		for i, n := range mr.names {
			var d decision
			if async {
				d, grants[i] = b.authorizeAsync(req, string(n))
			} else {
				d, grants[i] = authorize(context.Background(), b.auth, string(n), req)
			}
			if d != allowed {
				b.replyMuxDenied(c, req, d, n)
				return nil, false
			}
		}
		return grants, true
	}
	if _, ok := b.auth.(inline); ok {
		if grants, ok := decide(req, false); ok {
			then(c, req, mr, grants, false)
		}
		return
	}
	if grants, ok := b.decideAll(c, req, mr); ok {
		if grants != nil {
			then(c, req, mr, grants, false)
		}
		return
	}
	c.Defer()
	creq := cloneRequest(req)
	go func() {
		grants, ok := decide(creq, true)
		if !ok || !then(c, creq, mr, grants, true) {
			c.Resume()
		}
	}()
}

// decideAll decides every channel of mr on the reactor when the
// authorizer can (a decider: JWTs whose keys are at hand). ok reports that
// it decided: with grants nil, it answered the first refusal.
func (b *Broker) decideAll(c *loop.Conn, req *httpx.Request, mr muxRequest) (grants []Grant, ok bool) {
	dc, is := b.auth.(decider)
	if !is {
		return nil, false
	}
	grants = make([]Grant, len(mr.names))
	for i, n := range mr.names {
		d, g, decided := dc.decide(string(n), req)
		if !decided {
			return nil, false
		}
		if d != allowed {
			b.replyMuxDenied(c, req, d, n)
			return nil, true
		}
		grants[i] = g
	}
	return grants, true
}

// replyMuxDenied is replyDenied naming the refused channel on a 403.
func (b *Broker) replyMuxDenied(c *loop.Conn, req *httpx.Request, d decision, name []byte) {
	if d != forbidden {
		b.replyDenied(c, req, d)
		return
	}
	b.stats.denied403.Add(1)
	b.replyChannelError(c, req, 403, "forbidden", name)
}

// fanIn collects the answers of one engine call per channel, given at once
// or later: finish runs once every answer is in — on the handler when all
// came at once (inline), else on the goroutine of the last callback.
type fanIn struct {
	mu     sync.Mutex
	left   int // answers still missing, plus one until the handler has made every call
	finish func(inline bool)
}

func newFanIn(n int, finish func(inline bool)) *fanIn {
	return &fanIn{left: n + 1, finish: finish}
}

// count counts one answer and reports whether it was the last.
func (f *fanIn) count() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.left--
	return f.left == 0
}

// later counts an answer given by a callback.
func (f *fanIn) later() {
	if f.count() {
		f.finish(false)
	}
}

// issued is called by the handler once every call is made (answers given
// at once were counted with count, which is never the last before this);
// it reports whether the request is parked, some answer still to come.
func (f *fanIn) issued() (parked bool) {
	if f.count() {
		f.finish(true)
		return false
	}
	return true
}
