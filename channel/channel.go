// Package channel holds the channels of a server: a sharded registry of
// named channels, each with its subscribers, its id counter and its replay
// ring. It frames every published event once and hands the same bytes to
// every subscriber's Sink.
package channel

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/workkit/realtime/ring"
	"github.com/workkit/realtime/wheel"
)

var (
	// ErrFull reports a channel at its subscriber limit.
	ErrFull = errors.New("channel: subscriber limit reached")
	// ErrTooManyChannels reports that creating a channel would exceed
	// Config.MaxChannels.
	ErrTooManyChannels = errors.New("channel: channel limit reached")
	// ErrEvicted reports a channel evicted while the caller held it: look
	// the name up again (the registry does, on a fresh incarnation).
	ErrEvicted = errors.New("channel: evicted")
)

// Sink receives the frames of one subscriber: the seam between channel and
// loop. Its methods are called with the channel's lock held, so they must
// not block, must not write to a socket and must not call back into the
// channel. The caller has retained one reference to f for the call, which
// owns it from then on: the sink releases it when done with f, at once if
// it refuses f. Both report false when the subscriber is gone and will
// never deliver. (A publish thus retains once for all its subscribers: one
// atomic add per event, not per delivery.)
type Sink interface {
	// Send delivers a live event. A sink may refuse it as a slow
	// consumer's backlog.
	Send(f *ring.Frame) bool
	// Replay delivers a frame of a subscription's opening (the stream
	// head, a reset, the replayed events): delivered whole, never counted
	// as a backlog (SPEC 3.2).
	Replay(f *ring.Frame) bool
}

// Channel is one incarnation of a named channel. Its methods are safe for
// concurrent use.
type Channel struct {
	name string    // immutable
	reg  *Registry // immutable

	mu        sync.Mutex
	subs      []*Subscription       // guarded by mu; event streams, in arbitrary order
	muxSubs   int                   // guarded by mu; of subs, the members of multiplexed streams (they get the multiplexed form)
	who       map[string]*principal // guarded by mu; streams per principal (presence)
	waiters   []*Subscription       // guarded by mu; parked long-polls: woken by events, not counted as subscribers
	base      uint64                // guarded by mu; immutable after creation
	last      uint64                // guarded by mu; id of the newest event, base if none
	ring      *ring.Ring            // guarded by mu
	idleSince int64                 // guarded by mu; Unix ns of the last publish or of the last subscriber leaving
	used      bool                  // guarded by mu; published to or streamed from: idle for IdleTTL, else PollTTL
	dead      bool                  // guarded by mu; evicted: callers must look the name up again

	lastPub  atomic.Int64 // Unix ns of the last publish: least recently published channels lose buffered events first
	ringCost atomic.Int64 // ring.Cost(), stored under mu, read by the memory reclaimer without it

	evict wheel.Timer[*Channel] // guarded by the registry's evictor
}

// Subscription is one subscriber's membership of a channel. It is kept
// small (48 bytes): there is one per stream.
type Subscription struct {
	ch     *Channel   // immutable
	sink   Sink       // immutable
	who    *principal // immutable: who the authorizer allowed (presence, revocation); nil for a waiter
	idx    int32      // guarded by ch.mu; position in ch.subs or ch.waiters, -1 once cancelled
	waiter bool       // immutable: a parked long-poll, in ch.waiters
	mux    bool       // immutable: a member of a multiplexed stream, sent the multiplexed form
}

// principal is one principal's streams on a channel, shared by its
// subscriptions. Guarded by the channel's mu.
type principal struct {
	name    string
	streams int
}

// Joined returns, for a member of a multiplexed stream, the channel's last
// id when the subscription was registered: where the stream starts on that
// channel when opened without a last id.
func (s *Subscription) Joined() uint64 {
	if m, ok := s.sink.(*member); ok {
		return m.joined
	}
	return 0
}

// Open is how a subscription starts (SPEC 3.1 and 3.2).
type Open struct {
	Last    uint64 // the client's last event id, when HasLast
	HasLast bool
	// Head, if not nil, is the stream's response head. Under the channel
	// lock the opening SSE frame is appended to it and it is sent first;
	// the caller keeps its reference.
	Head  *ring.Frame
	Retry time.Duration // the retry hint of the opening frame
	// Mux makes the subscription a member of a multiplexed stream (SPEC
	// 3.8): its sink gets the multiplexed form of every frame, whose ID is
	// the position it leaves the client at (see MuxStream). Head is not
	// used: the stream sends its own opening.
	Mux bool
	// Principal is who the authorizer allowed (presence and revocation).
	Principal string
}

// Reset describes a realtime.reset frame (SPEC 3.2).
type Reset struct {
	Reason    string // ReasonBufferGap or ReasonBufferOverrun
	ID        uint64 // N: the channel's last id (its base when nothing was published)
	LastKnown uint64 // L: the id the client sent
	Oldest    uint64 // O: oldest buffered id (buffer_overrun only)
}

// Published is the outcome of a publish.
type Published struct {
	ID        uint64 // the event's id
	Delivered int    // subscribers the frame was queued to
}

// Info is a snapshot of a channel (SPEC 3.6).
type Info struct {
	Subscribers int
	LastID      uint64
	OldestID    uint64 // LastID+1 when nothing is buffered
	Buffered    int
}

// Info returns a snapshot of the channel.
func (c *Channel) Info() Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Info{
		Subscribers: len(c.subs),
		LastID:      c.last,
		OldestID:    c.oldestLocked(),
		Buffered:    c.ring.Len(),
	}
}

// publish assigns the next id, frames the event once, sends it to every
// subscriber (and wakes every parked long-poll) and stores it in the ring.
// data must be compact JSON.
func (c *Channel) publish(event, data []byte, now int64) (Published, error) {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return Published{}, ErrEvicted
	}
	return c.appendAndUnlock(c.last+1, event, data, now), nil
}

// appendAndUnlock frames event id (the next one: c.last+1), sends it to
// every subscriber and parked long-poll, stores it in the ring, and
// releases c.mu. c.mu is held on entry.
func (c *Channel) appendAndUnlock(id uint64, event, data []byte, now int64) Published {
	c.last = id
	f := ring.NewFrame()
	f.ID = id
	f.SetBytes(AppendEvent(f.Buf(), f.ID, event, data))
	p := Published{ID: f.ID}
	f.Retain(int32(len(c.subs) - c.muxSubs + len(c.waiters))) // one reference per Send
	mf := c.muxFrameLocked(id, event, data)
	for _, s := range c.subs {
		g := f
		if s.mux {
			g = mf
		}
		if s.sink.Send(g) {
			p.Delivered++
		}
	}
	for _, w := range c.waiters {
		w.sink.Send(f)
	}
	before := c.ring.Cost()
	evicted := c.ring.Push(f) // the ring takes over our reference
	cost := c.ring.Cost()
	c.ringCost.Store(cost)
	c.idleSince, c.used = now, true
	c.mu.Unlock()
	c.lastPub.Store(now)
	if evicted != nil {
		evicted.Release()
	}
	c.reg.buffered(cost - before)
	c.reg.stats.Publishes.Add(1)
	c.reg.stats.Deliveries.Add(uint64(p.Delivered))
	return p
}

// Subscribe adds sink to c as a stream. Under the lock, so that nothing
// published meanwhile is missed or sent twice, it sends the opening (head
// and first frame), then the reset and replay that o.Last calls for, and
// registers the subscription for live events. It fails with ErrFull, or
// when c was evicted meanwhile (the caller looks the name up again).
func (c *Channel) Subscribe(sink Sink, o Open) (*Subscription, error) {
	s, err := c.subscribe(sink, o)
	if err == nil && c.reg.cfg.OnSubscribers != nil {
		c.reg.cfg.OnSubscribers(c)
	}
	return s, err
}

func (c *Channel) subscribe(sink Sink, o Open) (*Subscription, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return nil, ErrEvicted
	}
	if max := c.reg.cfg.MaxSubscribers; max > 0 && len(c.subs) >= max {
		return nil, ErrFull
	}
	if o.Head != nil && !o.Mux {
		o.Head.SetBytes(AppendOpen(o.Head.Buf(), o.Retry.Milliseconds(), !o.HasLast, c.last))
		o.Head.Retain(1)
		sink.Replay(o.Head)
	}
	if o.HasLast {
		c.replayLocked(sink, o.Last, o.Mux)
	}
	c.used = true
	s := c.addLocked(sink, false)
	s.mux = o.Mux
	if o.Mux {
		c.muxSubs++
		if m, ok := sink.(*member); ok {
			m.joined = c.last
		}
	}
	s.who = c.who[o.Principal]
	if s.who == nil {
		if c.who == nil {
			c.who = map[string]*principal{}
		}
		s.who = &principal{name: o.Principal}
		c.who[o.Principal] = s.who
	}
	s.who.streams++
	if len(c.subs) == 1 && c.reg.cfg.OnOccupancy != nil {
		c.reg.cfg.OnOccupancy(c.name, true)
	}
	return s, nil
}

// replayLocked sends what a subscriber whose last id is last needs before
// live events (SPEC 3.2), in the multiplexed form with mux. c.mu is held.
func (c *Channel) replayLocked(sink Sink, last uint64, mux bool) {
	reset, after, replay := c.planLocked(last)
	if replay {
		c.reg.stats.Replays.Add(1)
	}
	if reset.Reason != "" {
		c.reg.countReset(reset.Reason)
		f := ring.NewFrame()
		if mux {
			f.ID = after // the position it leaves the client at: before the buffer
			f.SetBytes(AppendMuxReset(f.Buf(), c.name, reset))
		} else {
			f.SetBytes(AppendReset(f.Buf(), reset))
		}
		sink.Replay(f) // takes over our reference
	}
	if replay {
		_ = c.ring.After(after, func(f *ring.Frame) {
			if mux {
				sink.Replay(muxCopy(c.name, f))
				return
			}
			f.Retain(1)
			sink.Replay(f)
		})
	}
}

// planLocked applies SPEC 3.2 to a client's last id L: it returns the reset
// to send first (Reason empty for none), and whether to replay the buffered
// events with ids above after. After a reset every buffered event is
// replayed: each is newer than what the client knows. c.mu is held.
func (c *Channel) planLocked(last uint64) (reset Reset, after uint64, replay bool) {
	n, o := c.last, c.oldestLocked()
	buffered := c.ring.Len() > 0
	switch {
	case last == n:
		return Reset{}, 0, false
	case last > n || last < c.base:
		return Reset{Reason: ReasonBufferGap, ID: n, LastKnown: last}, o - 1, buffered
	case last >= o-1:
		return Reset{}, last, true
	default:
		return Reset{Reason: ReasonBufferOverrun, ID: n, LastKnown: last, Oldest: o}, o - 1, true
	}
}

// oldestLocked returns the oldest buffered id, or last+1 when the ring is
// empty. c.mu is held.
func (c *Channel) oldestLocked() uint64 {
	if o, ok := c.ring.Oldest(); ok {
		return o
	}
	return c.last + 1
}

// addLocked registers sink as a stream, or as a parked long-poll with
// waiter. c.mu is held.
func (c *Channel) addLocked(sink Sink, waiter bool) *Subscription {
	list := &c.subs
	if waiter {
		list = &c.waiters
	}
	s := &Subscription{ch: c, sink: sink, waiter: waiter, idx: int32(len(*list))}
	*list = append(*list, s)
	return s
}

// Cancel removes the subscription; later calls do nothing. Safe for
// concurrent use.
func (s *Subscription) Cancel() {
	if s.cancel() && !s.waiter && s.ch.reg.cfg.OnSubscribers != nil {
		s.ch.reg.cfg.OnSubscribers(s.ch)
	}
}

// cancel removes the subscription and reports whether it was registered.
func (s *Subscription) cancel() bool {
	s.ch.mu.Lock()
	defer s.ch.mu.Unlock()
	return s.cancelLocked()
}

// cancelLocked is cancel with the channel's lock held.
func (s *Subscription) cancelLocked() bool {
	c := s.ch
	i := s.idx
	if i < 0 {
		return false
	}
	list := &c.subs
	if s.waiter {
		list = &c.waiters
	}
	l := *list
	end := len(l) - 1
	l[i] = l[end]
	l[i].idx = int32(i)
	l[end] = nil
	*list = l[:end]
	s.idx = -1
	if s.mux {
		c.muxSubs--
	}
	if !s.waiter {
		if s.who.streams--; s.who.streams == 0 {
			delete(c.who, s.who.name)
		}
		if len(c.subs) == 0 && c.reg.cfg.OnOccupancy != nil {
			c.reg.cfg.OnOccupancy(c.name, false)
		}
	}
	if len(c.subs) == 0 && len(c.waiters) == 0 {
		c.idleSince = c.reg.nowNano()
		c.reg.evictor.arm(c, c.idleSince+int64(c.idleTTLLocked()))
	}
	return true
}

// idleTTLLocked is how long c may stay idle: IdleTTL once it was published
// to or streamed from, PollTTL if only polls ever touched it (SPEC 5: a
// poll must not pin memory for the whole idle TTL). c.mu is held.
func (c *Channel) idleTTLLocked() time.Duration {
	if c.used {
		return c.reg.cfg.IdleTTL
	}
	return c.reg.cfg.PollTTL
}
