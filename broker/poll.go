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

// maxPollWait bounds the wait= of a long-poll (SPEC 3.5).
const maxPollWait = 30

// poll serves GET /poll/{channel}?lastEventId=N[&wait=S] (SPEC 3.5): the
// events a client missed, as JSON, following the rules of SPEC 3.2. With
// wait=S and nothing to return, the reply is held until an event arrives
// or S seconds pass; no goroutine is held meanwhile.
func (b *Broker) poll(c *loop.Conn, req *httpx.Request, name []byte) {
	if !b.checkChannelRequest(c, req, "GET", name) {
		return
	}
	if _, ok := pollWait(req); !ok {
		b.replyError(c, req, 400, "wait must be an integer from 0 to 30")
		return
	}
	b.authorizeThen(c, req, name, b.pollAuthorized)
}

// pollWait returns the wait= parameter in seconds (0 when absent).
func pollWait(req *httpx.Request) (int, bool) {
	v, ok := req.Query("wait")
	if !ok {
		return 0, true
	}
	n, err := strconv.Atoi(string(v))
	return n, err == nil && n >= 0 && n <= maxPollWait
}

// pollAuthorized answers a poll once authorized; it reports true when it
// parked the request (a long-poll), which then replies and resumes itself.
func (b *Broker) pollAuthorized(c *loop.Conn, req *httpx.Request, name []byte, d decision, _ Grant) bool {
	if d != allowed {
		b.replyDenied(c, req, d)
		return false
	}
	b.stats.polls.Add(1)
	last, hasLast := lastEventID(req)
	wait, _ := pollWait(req)
	if wait == 0 {
		m, _, err := b.reg.Poll(name, last, hasLast, nil)
		b.replyPoll(c, req, &m, err)
		return false
	}
	w := &pollWaiter{b: b, c: c, req: cloneRequest(req), name: []byte(string(name)), last: last, hasLast: hasLast}
	w.mu.Lock()
	m, sub, err := b.reg.Poll(w.name, last, hasLast, w)
	if sub == nil {
		w.mu.Unlock()
		b.replyPoll(c, req, &m, err)
		return false
	}
	c.Defer()
	b.stats.parked.Add(1)
	w.sub = sub
	if !hasLast { // the client starts from now: wake it with what follows
		w.last, w.hasLast = m.LastID, true
	}
	w.timer = time.AfterFunc(time.Duration(wait)*time.Second, func() { w.fire(true) })
	w.mu.Unlock()
	c.SetOnDrain(func() { w.fire(true) })  // shutdown answers at once (SPEC 5)
	c.SetOnClose(func() { w.fire(false) }) // runs at once if the peer is already gone
	return true
}

// pollWaiter is a parked long-poll: a one-shot channel.Sink plus a timer.
// Whichever comes first — an event, the timeout, or the connection
// closing — wins; the others do nothing.
type pollWaiter struct {
	b       *Broker
	c       *loop.Conn
	req     *httpx.Request // a copy owned by the waiter
	name    []byte
	last    uint64
	hasLast bool
	done    atomic.Bool

	mu    sync.Mutex
	sub   *channel.Subscription // guarded by mu; set once registered
	timer *time.Timer           // guarded by mu
}

// Send implements channel.Sink: the first event wakes the poll. It is
// called under the channel's lock, so the reply is built on a goroutine.
func (w *pollWaiter) Send(f *ring.Frame) bool {
	return w.wake(f)
}

// Replay implements channel.Sink; a parked poll is never replayed to (the
// channel answers the poll itself first), so it only wakes it.
func (w *pollWaiter) Replay(f *ring.Frame) bool {
	return w.wake(f)
}

func (w *pollWaiter) wake(f *ring.Frame) bool {
	f.Release() // the reply is built from the ring, not from f
	if !w.done.CompareAndSwap(false, true) {
		return false
	}
	go w.finish(true)
	return true
}

// fire ends the wait, unless something else did first.
func (w *pollWaiter) fire(reply bool) {
	if w.done.CompareAndSwap(false, true) {
		w.finish(reply)
	}
}

// finish drops the subscription and the timer; with reply, it sends the
// events missed so far (none after a timeout) and resumes the connection.
func (w *pollWaiter) finish(reply bool) {
	w.mu.Lock() // waits until registration finished
	sub, timer := w.sub, w.timer
	w.mu.Unlock()
	if timer != nil {
		timer.Stop()
	}
	if sub != nil {
		sub.Cancel()
		w.b.stats.parked.Add(-1)
	}
	if !reply {
		return
	}
	w.c.SetOnClose(nil)
	w.c.SetOnDrain(nil)
	m, _, err := w.b.reg.Poll(w.name, w.last, w.hasLast, nil)
	w.b.replyPoll(w.c, w.req, &m, err)
	w.c.Resume()
}

// replyPoll answers a poll: {"events":[...],"lastId":N}, a reset first
// when there is one, each event as {"id","event","data"}; or, when err
// (channel.ErrTooManyChannels) says the channel could not be created, 503.
func (b *Broker) replyPoll(c *loop.Conn, req *httpx.Request, m *channel.Missed, err error) {
	if err != nil {
		b.replyTooManyChannels(c, req)
		return
	}
	body := appendMissed(make([]byte, 0, 256), m)
	m.Release()
	b.replyJSON(c, req, body)
}

func appendMissed(dst []byte, m *channel.Missed) []byte {
	dst = append(dst, `{"events":[`...)
	if m.Reset.Reason != "" {
		dst = appendPollEvent(dst, m.Reset.ID, channel.ResetEvent, channel.AppendResetData(nil, m.Reset))
	}
	for i, f := range m.Frames {
		if i > 0 || m.Reset.Reason != "" {
			dst = append(dst, ',')
		}
		ev, data := channel.EventOf(f)
		dst = appendPollEvent(dst, f.ID, string(ev), data)
	}
	dst = append(dst, `],"lastId":`...)
	dst = strconv.AppendUint(dst, m.LastID, 10)
	return append(dst, '}')
}

// appendPollEvent appends {"id":id,"event":"event","data":data}; event
// names are validated, so they need no escaping.
func appendPollEvent(dst []byte, id uint64, event string, data []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, `,"event":"`...)
	dst = append(dst, event...)
	dst = append(dst, `","data":`...)
	dst = append(dst, data...)
	return append(dst, '}')
}
