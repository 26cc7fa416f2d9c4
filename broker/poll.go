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
// parked the request (a long-poll, or an answer the engine gives later),
// which then replies and resumes itself.
func (b *Broker) pollAuthorized(c *loop.Conn, req *httpx.Request, name []byte, d decision, _ Grant, deferred bool) bool {
	if d != allowed {
		b.replyDenied(c, req, d)
		return false
	}
	b.stats.polls.Add(1)
	last, hasLast := lastEventID(req)
	q := channel.PollQuery{Last: last, HasLast: hasLast}
	if wait, _ := pollWait(req); wait > 0 {
		return b.longPoll(c, req, name, q, time.Duration(wait)*time.Second, deferred)
	}
	return b.pollNow(c, req, name, q, deferred)
}

// pollNow answers a poll with what the channel holds now.
func (b *Broker) pollNow(c *loop.Conn, req *httpx.Request, name []byte, q channel.PollQuery, deferred bool) bool {
	if b.local {
		m, _, err := b.eng.Poll(name, q, nil, nil)
		b.replyPoll(c, req, &m, err)
		return false
	}
	pk := b.park(c, req, name, deferred)
	m, _, err := b.eng.Poll(name, q, nil, func(m channel.Missed, _ *channel.Subscription, err error) {
		pk.ready()
		b.replyPoll(pk.c, pk.req, &m, err)
		pk.resume()
	})
	if pending(err) {
		pk.detach()
		return true
	}
	pk.answered()
	b.replyPoll(c, req, &m, err)
	return false
}

// longPoll answers a poll with wait=S: at once if there is something to
// say, else when an event arrives or S passes. No goroutine waits.
func (b *Broker) longPoll(c *loop.Conn, req *httpx.Request, name []byte, q channel.PollQuery, wait time.Duration, deferred bool) bool {
	w := &pollWaiter{b: b, c: c, req: cloneRequest(req), name: []byte(string(name)), q: q, wait: wait, own: !deferred}
	if !deferred {
		c.Defer()
	}
	w.mu.Lock() // a wake-up waits until the registration is done
	defer w.mu.Unlock()
	m, sub, err := b.eng.Poll(w.name, q, w, func(m channel.Missed, sub *channel.Subscription, err error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.registered(m, sub, err) {
			w.c.Resume()
		}
	})
	if pending(err) {
		return true
	}
	if w.registered(m, sub, err) {
		return true
	}
	if w.own {
		c.Undefer()
	}
	return false
}

// pollWaiter is a parked long-poll: a one-shot channel.Sink plus a timer.
// Whichever comes first — an event, the timeout, or the connection
// closing — wins; the others do nothing.
type pollWaiter struct {
	b    *Broker           // immutable
	c    *loop.Conn        // immutable
	req  *httpx.Request    // immutable: a copy owned by the waiter
	name []byte            // immutable
	wait time.Duration     // immutable
	own  bool              // immutable: the handler deferred the connection
	q    channel.PollQuery // guarded by mu until registered; immutable after
	done atomic.Bool

	mu    sync.Mutex
	sub   *channel.Subscription // guarded by mu; set once registered
	timer *time.Timer           // guarded by mu
}

// registered handles the engine's answer to the waiter's poll: an answer
// to give at once (events, a reset, a refusal) is replied and false
// returned; else the waiter is parked until an event, the timeout, a drain
// or a hang-up. w.mu is held.
func (w *pollWaiter) registered(m channel.Missed, sub *channel.Subscription, err error) bool {
	if err != nil || sub == nil {
		w.done.Store(true)
		w.b.replyPoll(w.c, w.req, &m, err)
		return false
	}
	w.b.stats.parked.Add(1)
	w.sub = sub
	if !w.q.HasLast { // the client starts from now: wake it with what follows
		w.q = channel.PollQuery{Last: m.LastID, HasLast: true}
	}
	w.timer = time.AfterFunc(w.wait, func() { w.fire(true) })
	w.c.SetOnDrain(func() { w.fire(true) })  // shutdown answers at once (SPEC 5)
	w.c.SetOnClose(func() { w.fire(false) }) // runs at once if the peer is already gone
	return true
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
	if !w.b.pollNow(w.c, w.req, w.name, w.q, true) {
		w.c.Resume()
	}
}

// replyPoll answers a poll: {"events":[...],"lastId":N}, a reset first
// when there is one, each event as {"id","event","data"}; or the engine's
// refusal.
func (b *Broker) replyPoll(c *loop.Conn, req *httpx.Request, m *channel.Missed, err error) {
	if err != nil {
		b.replyEngineError(c, req, err)
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
