// Package channel holds the channels of a server: a sharded registry of
// named channels, each with its subscribers, its id counter and its replay
// ring. It frames every published event once and hands the same bytes to
// every subscriber's Sink.
package channel

import (
	"errors"
	"sync"

	"github.com/workkit/realtime/ring"
	"github.com/workkit/realtime/wheel"
)

var (
	// ErrFull reports a channel at its subscriber limit.
	ErrFull = errors.New("channel: subscriber limit reached")
	// errDead reports a channel evicted while the caller held it; the
	// registry retries on a fresh incarnation.
	errDead = errors.New("channel: evicted")
)

// Sink receives the frames of one subscriber: the seam between channel and
// loop. Send is called with the channel's lock held, so it must not block,
// must not write to a socket and must not call back into the channel. The
// caller has retained one reference to f for Send, which owns it from then
// on: it releases it when done with f, at once if it refuses f. Send
// reports false when the subscriber is gone and will never deliver. (A
// publish thus retains once for all its subscribers: one atomic add per
// event, not per delivery.)
type Sink interface {
	Send(f *ring.Frame) bool
}

// Channel is one named channel. Its methods are safe for concurrent use.
type Channel struct {
	name string    // immutable
	reg  *Registry // immutable

	mu        sync.Mutex
	subs      []*Subscription // guarded by mu; order is arbitrary
	base      uint64          // guarded by mu; immutable after creation
	last      uint64          // guarded by mu; id of the newest event, base if none
	ring      *ring.Ring      // guarded by mu
	idleSince int64           // guarded by mu; Unix ns of the last publish or unsubscribe
	dead      bool            // guarded by mu; evicted: callers must look the name up again

	evict wheel.Timer[*Channel] // guarded by the registry's evictor
}

// Subscription is one subscriber's membership of a channel.
type Subscription struct {
	ch   *Channel // immutable
	sink Sink     // immutable
	idx  int      // guarded by ch.mu; position in ch.subs, -1 once cancelled
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

// publish assigns the next id, frames the event once, stores it in the ring
// and sends it to every subscriber. data must be compact JSON.
func (c *Channel) publish(event, data []byte, now int64) (Published, error) {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return Published{}, errDead
	}
	c.last++
	f := ring.NewFrame()
	f.ID = c.last
	f.SetBytes(AppendEvent(f.Buf(), f.ID, event, data))
	p := Published{ID: f.ID}
	f.Retain(int32(len(c.subs))) // one reference per Send
	for _, s := range c.subs {
		if s.sink.Send(f) {
			p.Delivered++
		}
	}
	evicted := c.ring.Push(f) // the ring takes over our reference
	c.idleSince = now
	c.mu.Unlock()
	c.reg.stats.Publishes.Add(1)
	c.reg.stats.Deliveries.Add(uint64(p.Delivered))
	if evicted != nil {
		evicted.Release()
	}
	return p, nil
}

// subscribe adds sink. Under the lock, so that nothing published meanwhile
// is missed or sent twice, it sends head (if not nil; the caller keeps its
// own reference), then the reset frame and replay that last calls for, and
// registers the subscription for live events.
func (c *Channel) subscribe(sink Sink, last uint64, hasLast bool, head *ring.Frame) (*Subscription, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return nil, errDead
	}
	if max := c.reg.cfg.MaxSubscribers; max > 0 && len(c.subs) >= max {
		return nil, ErrFull
	}
	if head != nil {
		head.Retain(1)
		sink.Send(head)
	}
	if hasLast {
		c.replayLocked(sink, last)
	}
	return c.addLocked(sink), nil
}

// replayLocked sends what a subscriber whose last id is last needs before
// live events (SPEC 3.2). c.mu is held.
func (c *Channel) replayLocked(sink Sink, last uint64) {
	reset, after, replay := c.planLocked(last)
	if replay {
		c.reg.stats.Replays.Add(1)
	}
	if reset.Reason != "" {
		c.reg.countReset(reset.Reason)
		f := ring.NewFrame()
		f.SetBytes(AppendReset(f.Buf(), reset))
		sink.Send(f) // takes over our reference
	}
	if replay {
		_ = c.ring.After(after, func(f *ring.Frame) {
			f.Retain(1)
			sink.Send(f)
		})
	}
}

// planLocked applies SPEC 3.2 to a client's last id L: it returns the reset
// to send first (Reason empty for none), and whether to replay the buffered
// events with ids above after. c.mu is held.
func (c *Channel) planLocked(last uint64) (reset Reset, after uint64, replay bool) {
	n, o := c.last, c.oldestLocked()
	switch {
	case last == n:
		return Reset{}, 0, false
	case last > n || last < c.base:
		return Reset{Reason: ReasonBufferGap, ID: n, LastKnown: last}, 0, false
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

// Cancel removes the subscription; later calls do nothing. Safe for
// concurrent use.
func (s *Subscription) Cancel() {
	c := s.ch
	c.mu.Lock()
	defer c.mu.Unlock()
	i := s.idx
	if i < 0 {
		return
	}
	end := len(c.subs) - 1
	c.subs[i] = c.subs[end]
	c.subs[i].idx = i
	c.subs[end] = nil
	c.subs = c.subs[:end]
	s.idx = -1
	if len(c.subs) == 0 {
		c.idleSince = c.reg.nowNano()
		c.reg.evictor.arm(c, c.idleSince+int64(c.reg.cfg.IdleTTL))
	}
}
