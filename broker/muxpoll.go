package broker

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/workkit/realtime/channel"
	"github.com/workkit/realtime/httpx"
	"github.com/workkit/realtime/loop"
	"github.com/workkit/realtime/ring"
)

// pollMux serves GET /poll?channel=a&channel=b[&cursor=C][&wait=S] (SPEC
// 3.8): {"events":[{"channel","id","event","data"},...],"cursor":"..."}.
func (b *Broker) pollMux(c *loop.Conn, req *httpx.Request) {
	if !isMethod(req, "GET") {
		b.methodNotAllowed(c, req, "GET")
		return
	}
	if _, ok := pollWait(req); !ok {
		b.replyError(c, req, 400, "wait must be an integer from 0 to 30")
		return
	}
	mr, ok := b.parseMux(c, req)
	if !ok {
		return
	}
	b.authorizeAll(c, req, mr, func(c *loop.Conn, req *httpx.Request, mr muxRequest, _ []Grant, deferred bool) bool {
		b.stats.polls.Add(1)
		if wait, _ := pollWait(req); wait > 0 {
			return b.longPollMux(c, req, mr, time.Duration(wait)*time.Second, deferred)
		}
		return b.pollMuxNow(c, req, mr, deferred)
	})
}

// pollMuxNow answers with what every channel holds now.
func (b *Broker) pollMuxNow(c *loop.Conn, req *httpx.Request, mr muxRequest, deferred bool) bool {
	return b.pollEach(c, req, mr, nil, deferred, func(c *loop.Conn, req *httpx.Request, ms []channel.Missed, _ []*channel.Subscription, errs []error) bool {
		b.replyMuxPoll(c, req, mr, ms, errs)
		return false
	})
}

// pollAnswer handles the results of polling every channel; it reports
// true when it keeps the request parked (a long-poll now waiting).
type pollAnswer func(c *loop.Conn, req *httpx.Request, ms []channel.Missed, subs []*channel.Subscription, errs []error) (keep bool)

// pollEach polls every channel of mr (parking wait on those with nothing
// to say, when not nil) and calls answer with the results, on whichever
// goroutine has the last of them. It reports whether the request is
// parked: an answer is still to come, or answer kept it. deferred says
// the connection is deferred already (an authorization ran off the
// reactor); whoever answers later resumes it.
func (b *Broker) pollEach(c *loop.Conn, req *httpx.Request, mr muxRequest, wait channel.Sink, deferred bool, answer pollAnswer) bool {
	n := len(mr.names)
	ms, subs, errs := make([]channel.Missed, n), make([]*channel.Subscription, n), make([]error, n)
	rreq, own := req, false
	if !b.local || wait != nil { // the answer may come from another goroutine
		if !deferred {
			c.Defer()
			own = true
		}
		rreq = cloneRequest(req)
	}
	var kept atomic.Bool
	fan := newFanIn(n, func(inline bool) {
		keep := answer(c, rreq, ms, subs, errs)
		kept.Store(keep)
		switch {
		case keep: // the long-poll's end resumes the connection
		case inline && own:
			c.Undefer()
		case !inline:
			c.Resume()
		}
	})
	for i, name := range mr.names {
		q := channel.PollQuery{Last: mr.pos[i], HasLast: mr.has[i]}
		m, sub, err := b.eng.Poll(name, q, wait, func(m channel.Missed, sub *channel.Subscription, err error) {
			ms[i], subs[i], errs[i] = m, sub, err
			fan.later()
		})
		if !pending(err) {
			ms[i], subs[i], errs[i] = m, sub, err
			fan.count()
		}
	}
	return fan.issued() || kept.Load()
}

// replyMuxPoll answers a multiplexed poll, or the first channel's refusal.
func (b *Broker) replyMuxPoll(c *loop.Conn, req *httpx.Request, mr muxRequest, ms []channel.Missed, errs []error) {
	defer func() {
		for i := range ms {
			ms[i].Release()
		}
	}()
	for i, err := range errs {
		if err != nil {
			b.replyMuxEngineError(c, req, err, mr.names[i])
			return
		}
	}
	cur := channel.NewCursor(mr.strings())
	body := append(make([]byte, 0, 256), `{"events":[`...)
	first := true
	for i, m := range ms {
		name := string(mr.names[i])
		if m.Reset.Reason != "" {
			body = appendMuxPollEvent(body, first, name, m.Reset.ID, channel.ResetEvent, channel.AppendMuxResetData(nil, name, m.Reset))
			first = false
		}
		for _, f := range m.Frames {
			ev, data := channel.EventOf(f)
			body = appendMuxPollEvent(body, first, name, f.ID, string(ev), data)
			first = false
		}
		cur.Set(i, m.LastID)
	}
	body = append(body, `],"cursor":"`...)
	body = append(append(body, cur.Bytes()...), `"}`...)
	b.replyJSON(c, req, body)
}

// appendMuxPollEvent appends {"channel","id","event","data"}.
func appendMuxPollEvent(dst []byte, first bool, ch string, id uint64, event string, data []byte) []byte {
	if !first {
		dst = append(dst, ',')
	}
	dst = append(dst, `{"channel":`...)
	dst = httpx.AppendJSONString(dst, ch)
	dst = append(dst, `,"id":`...)
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, `,"event":"`...)
	dst = append(dst, event...)
	dst = append(dst, `","data":`...)
	dst = append(dst, data...)
	return append(dst, '}')
}

// longPollMux answers a multiplexed poll with wait=S: at once when any
// channel has something to say, else when an event arrives on any of them
// or S passes. No goroutine waits.
func (b *Broker) longPollMux(c *loop.Conn, req *httpx.Request, mr muxRequest, wait time.Duration, deferred bool) bool {
	w := &muxWaiter{b: b, mr: mr, wait: wait}
	return b.pollEach(c, req, mr, w, deferred, w.registered)
}

// muxWaiter is a parked multiplexed long-poll: registered on every channel
// of its poll; the first event on any, the timeout, a drain or a hang-up
// ends it, and the poll is answered anew from every channel.
type muxWaiter struct {
	b    *Broker       // immutable
	mr   muxRequest    // immutable
	wait time.Duration // immutable
	done atomic.Bool

	mu     sync.Mutex
	c      *loop.Conn              // guarded by mu; set once registered
	req    *httpx.Request          // guarded by mu; a copy owned by the request
	subs   []*channel.Subscription // guarded by mu
	timer  *time.Timer             // guarded by mu
	parked bool                    // guarded by mu
}

// registered handles the answers of every channel (a pollAnswer): a poll
// with something to say (or a refusal) is answered now and its
// registrations dropped; else it is parked.
func (w *muxWaiter) registered(c *loop.Conn, req *httpx.Request, ms []channel.Missed, subs []*channel.Subscription, errs []error) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	answer := w.done.Load()
	for i := range ms {
		answer = answer || errs[i] != nil || subs[i] == nil
	}
	if answer {
		w.done.Store(true)
		for _, s := range subs {
			if s != nil {
				s.Cancel()
			}
		}
		w.b.replyMuxPoll(c, req, w.mr, ms, errs)
		return false
	}
	w.c, w.req, w.subs, w.parked = c, req, subs, true
	w.b.stats.parked.Add(1)
	w.timer = time.AfterFunc(w.wait, func() { w.fire(true) })
	c.SetOnDrain(func() { w.fire(true) })
	c.SetOnClose(func() { w.fire(false) })
	return true
}

// Send implements channel.Sink: the first event on any channel wakes it.
func (w *muxWaiter) Send(f *ring.Frame) bool {
	f.Release()
	if !w.done.CompareAndSwap(false, true) {
		return false
	}
	go w.finish(true)
	return true
}

// Replay implements channel.Sink (a resync woke the channel).
func (w *muxWaiter) Replay(f *ring.Frame) bool { return w.Send(f) }

func (w *muxWaiter) fire(reply bool) {
	if w.done.CompareAndSwap(false, true) {
		w.finish(reply)
	}
}

// finish drops the registrations and the timer; with reply, it polls every
// channel again, answers and resumes the connection.
func (w *muxWaiter) finish(reply bool) {
	w.mu.Lock() // waits until the registration is done
	c, req, subs, timer, parked := w.c, w.req, w.subs, w.timer, w.parked
	w.mu.Unlock()
	if !parked {
		return // answered at registration
	}
	if timer != nil {
		timer.Stop()
	}
	for _, s := range subs {
		s.Cancel()
	}
	w.b.stats.parked.Add(-1)
	if !reply {
		return
	}
	c.SetOnClose(nil)
	c.SetOnDrain(nil)
	if !w.b.pollMuxNow(c, req, w.mr, true) {
		c.Resume()
	}
}
