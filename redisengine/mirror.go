package redisengine

import (
	"context"
	"errors"
	"sync"
	"unsafe"

	"github.com/redis/rueidis"
	"github.com/workkit/realtime/channel"
)

// mirror is this node's copy of one channel: the pub/sub subscription, and
// a channel.Channel holding the channel's buffered events and local
// subscribers, numbered by Redis.
//
//	         first local subscriber or poll
//	  (none) -------------------------------> joining: subscribe, read history, merge
//	                                             | history merged
//	                                             v
//	   +--------------------------------------> live: events applied as they arrive
//	   | history merged                          | an id gap, a new incarnation, a lost
//	   |                                         | pub/sub connection
//	repairing <----------------------------------+
//	   (events arriving meanwhile wait in the backlog)
//
// A live or repairing mirror serves subscribers at once (a repair brings
// them up to date, channel.Resync); a joining one parks them until it is
// live. A mirror idle for the channel's TTL is evicted with its
// channel.Channel and unsubscribed.
type mirror struct {
	e    *Engine    // immutable
	name string     // immutable
	k    keys       // immutable
	part *partition // immutable

	mu       sync.Mutex
	state    mirrorState      // guarded by mu
	ch       *channel.Channel // guarded by mu; nil while joining
	waiting  []waiter         // guarded by mu; requests parked until the join is done
	ahead    []waiter         // guarded by mu; resumes from an id the mirror has not got yet, parked until a repair
	backlog  []message        // guarded by mu; events that arrived while joining or repairing, in order
	overflow bool             // guarded by mu; the backlog was cut: the repair reads everything from history
	used     bool             // guarded by mu; a stream (not only polls) asked for it
}

type mirrorState uint8

const (
	joining mirrorState = iota
	live
	repairing
	gone // evicted, or its join failed: the map no longer holds it
)

// maxBacklog bounds the events a mirror keeps while it is joining or being
// repaired; past it they are dropped and the repair reads them from the
// history instead.
const maxBacklog = 4096

// waiter is a request parked until its mirror is live.
type waiter struct {
	sink       channel.Sink // a stream's or a long-poll's sink
	open       channel.Open // a stream's opening
	poll       *channel.PollQuery
	subscribed func(*channel.Subscription, error)
	polled     func(channel.Missed, *channel.Subscription, error)
}

// serve answers w from ch.
func (w waiter) serve(ch *channel.Channel) {
	if w.poll != nil {
		m, sub, err := ch.Poll(*w.poll, w.sink)
		w.polled(m, sub, err)
		return
	}
	sub, err := ch.Subscribe(w.sink, w.open)
	w.subscribed(sub, err)
}

// last returns the id w resumes from, if it has one.
func (w waiter) last() (uint64, bool) {
	if w.poll != nil {
		return w.poll.Last, w.poll.HasLast
	}
	return w.open.Last, w.open.HasLast
}

// fail answers w with err.
func (w waiter) fail(err error) {
	if w.poll != nil {
		w.polled(channel.Missed{}, nil, err)
	} else {
		w.subscribed(nil, err)
	}
}

// serveOrPark answers w at once from name's mirror when it is live, or
// parks it until the mirror's join is done (ErrPending). A channel this
// node does not hold cannot be joined while Redis, or its partition's
// pub/sub connection, is down.
func (e *Engine) serveOrPark(name []byte, w waiter, used bool) (*channel.Channel, error) {
	for {
		m, err := e.mirrorOf(name)
		if err != nil {
			return nil, err
		}
		m.mu.Lock()
		switch m.state {
		case live, repairing:
			ch := m.ch
			if last, ok := w.last(); ok && ch.Ahead(last) {
				// The client has seen an event this node has not got yet
				// (its stream was on a node pub/sub reached first): read
				// the history before answering, or it would get a reset
				// and then that event again.
				m.ahead = append(m.ahead, w)
				first := len(m.ahead) == 1
				m.mu.Unlock()
				if first {
					e.syncq.push(m.repair)
				}
				return nil, channel.ErrPending
			}
			m.mu.Unlock()
			return ch, nil
		case joining:
			m.used = m.used || used
			m.waiting = append(m.waiting, w)
			m.mu.Unlock()
			return nil, channel.ErrPending
		}
		m.mu.Unlock() // gone: look again
	}
}

// mirrorOf returns the mirror of name, creating it (and queueing its join)
// if there is none.
func (e *Engine) mirrorOf(name []byte) (*mirror, error) {
	if m, ok := e.mirrors.Load(unsafe.String(unsafe.SliceData(name), len(name))); ok {
		return m, nil
	}
	key := string(name)
	if _, p := e.keysOf(key); !e.up.Load() || !p.up.Load() {
		return nil, channel.ErrUnavailable // only this channel's partition matters: one Cluster master down leaves the others served
	}
	created := false
	m, _ := e.mirrors.LoadOrCompute(key, func() *mirror {
		created = true
		k, p := e.keysOf(key)
		return &mirror{e: e, name: key, k: k, part: p}
	})
	if created {
		e.syncq.push(m.join)
	}
	return m, nil
}

// join subscribes to the channel, reads its history, builds the local
// channel from it with what arrived meanwhile, and serves the requests
// that waited. It runs on a syncer.
func (m *mirror) join(ctx context.Context) {
	e := m.e
	var ch *channel.Channel
	err := m.part.subscribe(ctx, m.k.pubsub)
	var h history
	if err == nil {
		h, err = e.readHistory(ctx, m.k, 0, 0)
	}
	m.mu.Lock()
	if err == nil {
		ch, err = e.reg.Adopt([]byte(m.name), h.base, h.last, h.events, m.used)
	}
	waiting := m.waiting
	m.waiting = nil
	if err != nil {
		m.state = gone
		m.mu.Unlock()
		e.forget(m)
		for _, w := range waiting {
			w.fail(engineError(err))
		}
		return
	}
	m.ch, m.state = ch, live
	repair := m.drainLocked()
	m.mu.Unlock()
	if repair {
		e.syncq.push(m.repair)
	}
	e.stats.joins.Add(1)
	for _, w := range waiting {
		w.serve(ch)
	}
}

// repair reads the history again and brings the mirror, and its
// subscribers, up to date (channel.Resync). It runs on a syncer; a failure
// (Redis unreachable) is retried after a pause.
func (m *mirror) repair(ctx context.Context) {
	e := m.e
	m.mu.Lock()
	ch := m.ch
	m.mu.Unlock()
	if ch == nil {
		return
	}
	base, last := ch.Position()
	h, err := e.readHistory(ctx, m.k, base, last)
	if err != nil {
		e.stats.repairErrors.Add(1)
		if m.part.up.Load() { // else the partition's reconnect repairs it
			e.later(m.repair)
		}
		m.failAhead(channel.ErrUnavailable)
		return
	}
	m.mu.Lock()
	if m.state == gone {
		m.mu.Unlock()
		m.failAhead(channel.ErrUnavailable)
		return
	}
	ch.Resync(h.base, h.last, h.events)
	m.overflow = false
	again := m.drainLocked()
	if !again {
		m.state = live
	}
	ahead := m.ahead
	m.ahead = nil
	m.mu.Unlock()
	e.stats.repairs.Add(1)
	if again {
		e.syncq.push(m.repair)
	}
	for _, w := range ahead { // up to date with Redis now: what is still ahead is a reset
		w.serve(ch)
	}
}

// failAhead answers the resumes parked for a repair that could not read
// the history (503: the client retries).
func (m *mirror) failAhead(err error) {
	m.mu.Lock()
	ahead := m.ahead
	m.ahead = nil
	m.mu.Unlock()
	for _, w := range ahead {
		w.fail(err)
	}
}

// drainLocked applies the backlog in order. It reports true, leaving the
// mirror repairing with the rest of the backlog, when an event is missing
// before one of them. m.mu is held and m.ch is set.
func (m *mirror) drainLocked() bool {
	for i, msg := range m.backlog {
		if m.ch.Apply(msg.base, msg.id, bytesOf(msg.event), bytesOf(msg.data)) == channel.Missing {
			m.state = repairing
			m.backlog = append(m.backlog[:0], m.backlog[i:]...)
			return true
		}
	}
	clear(m.backlog)
	m.backlog = m.backlog[:0]
	if m.overflow {
		m.state = repairing
		return true
	}
	return false
}

// receive handles one event from pub/sub. It runs on the partition
// connection's reader goroutine: it never blocks (a repair is queued).
func (m *mirror) receive(msg message) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.state {
	case joining, repairing:
		if len(m.backlog) < maxBacklog {
			m.backlog = append(m.backlog, msg)
		} else {
			m.overflow = true
		}
	case live:
		switch m.ch.Apply(msg.base, msg.id, bytesOf(msg.event), bytesOf(msg.data)) {
		case channel.Missing:
			m.e.stats.gaps.Add(1)
			m.state = repairing
			m.backlog = append(m.backlog[:0], msg)
			m.e.syncq.push(m.repair)
		}
	}
}

// lost marks a live mirror as having missed whatever its pub/sub
// connection carried while it was down: it is repaired once the
// connection is back.
func (m *mirror) lost() {
	m.mu.Lock()
	if m.state == live {
		m.state = repairing
	}
	m.mu.Unlock()
}

// forget removes m from the engine and unsubscribes its channel.
func (e *Engine) forget(m *mirror) {
	e.mirrors.Compute(m.name, func(cur *mirror, loaded bool) (*mirror, bool) {
		return cur, !loaded || cur == m
	})
	m.part.unsubscribe(m.k.pubsub)
}

// onEvict is the mirrors' registry's hook: an idle mirror was evicted.
func (e *Engine) onEvict(c *channel.Channel) {
	m, ok := e.mirrors.Load(c.Name())
	if !ok {
		return
	}
	m.mu.Lock()
	mine := m.ch == c
	if mine {
		m.state = gone
	}
	m.mu.Unlock()
	if mine {
		e.forget(m)
		e.dirty.mark(m.name) // its count on this node goes
		m.failAhead(channel.ErrUnavailable)
	}
}

// history is a channel's incarnation and buffered events as Redis holds
// them.
type history struct {
	base, last uint64
	events     []channel.Event
}

var errHistory = errors.New("redisengine: malformed history")

// readHistory runs the history script for k; seen is what this node holds
// of the channel (its base and last id, 0 if nothing), which Redis must
// not be behind.
func (e *Engine) readHistory(ctx context.Context, k keys, seenBase, seenLast uint64) (history, error) {
	c := e.cmd()
	if c == nil {
		return history{}, channel.ErrUnavailable
	}
	args := []string{u64(e.hw.Load()), u64(seenBase), u64(seenLast), e.ttl, e.maxlen}
	r := historyScript.exec(ctx, c, []string{k.meta, k.stream, k.rv}, args)
	v, err := r.ToArray()
	if err != nil {
		return history{}, err
	}
	return parseHistory(v)
}

func parseHistory(v []rueidis.RedisMessage) (history, error) {
	var h history
	if len(v) != 3 {
		return h, errHistory
	}
	var err1, err2 error
	h.base, err1 = parseU64(v[0])
	h.last, err2 = parseU64(v[1])
	entries, err3 := v[2].ToArray()
	if err := errors.Join(err1, err2, err3); err != nil {
		return h, err
	}
	for _, ent := range entries {
		ev, err := parseEntry(ent)
		if err != nil {
			return h, err
		}
		h.events = append(h.events, ev)
	}
	return h, nil
}

// parseEntry reads one stream entry: {"<id>-0", {"e", event, "d", data}}.
func parseEntry(ent rueidis.RedisMessage) (channel.Event, error) {
	parts, err := ent.ToArray()
	if err != nil || len(parts) != 2 {
		return channel.Event{}, errHistory
	}
	sid, err := parts[0].ToString()
	if err != nil {
		return channel.Event{}, errHistory
	}
	id, err := parseStreamID(sid)
	if err != nil {
		return channel.Event{}, err
	}
	fields, err := parts[1].AsStrSlice()
	if err != nil || len(fields) != 4 || fields[0] != "e" || fields[2] != "d" {
		return channel.Event{}, errHistory
	}
	return channel.Event{ID: id, Name: []byte(fields[1]), Data: []byte(fields[3])}, nil
}

// bytesOf views s as bytes for a call that copies them (Channel.Apply
// frames the event into a buffer of its own).
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
