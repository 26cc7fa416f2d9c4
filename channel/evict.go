package channel

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/workkit/realtime/wheel"
)

// evictor drops channels that had no subscriber and no publish for
// IdleTTL (PollTTL for a channel only polls touched). Each channel's timer is armed when it becomes idle (created by
// a publish, or its last subscriber left); a publish meanwhile only
// records the time, and the timer, when it fires, either evicts or moves
// itself to idleSince+IdleTTL.
type evictor struct {
	tick    time.Duration // immutable
	mu      sync.Mutex
	wheel   *wheel.Wheel[*Channel] // guarded by mu
	fired   []*Channel             // guarded by mu; scratch of advance
	evicted atomic.Uint64          // channels evicted so far
}

func newEvictor(ttl time.Duration, now int64) *evictor {
	tick := min(max(ttl/8, 10*time.Millisecond), time.Second)
	return &evictor{tick: tick, wheel: wheel.New[*Channel](tick, 1024, now)}
}

// arm schedules c's idle check at deadline (Unix ns).
func (e *evictor) arm(c *Channel, deadline int64) {
	e.mu.Lock()
	e.wheel.Arm(&c.evict, deadline)
	e.mu.Unlock()
}

// Evictions returns the number of channels evicted for idleness.
func (r *Registry) Evictions() uint64 { return r.evictor.evicted.Load() }

// EvictIdle evicts the channels idle for IdleTTL at now. Run calls it every
// tick; tests call it with their own clock.
func (r *Registry) EvictIdle(now time.Time) {
	e := r.evictor
	e.mu.Lock()
	e.wheel.Advance(now.UnixNano(), func(t *wheel.Timer[*Channel]) { e.fired = append(e.fired, t.Value) })
	fired := e.fired
	e.fired = nil
	e.mu.Unlock()
	for i, c := range fired {
		r.expire(c, now.UnixNano())
		fired[i] = nil
	}
	e.mu.Lock()
	e.fired = fired[:0]
	e.mu.Unlock()
}

// Run evicts idle channels and keeps the replay rings within their memory
// budget until stop is closed.
func (r *Registry) Run(stop <-chan struct{}) {
	tk := time.NewTicker(r.evictor.tick)
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tk.C:
			r.EvictIdle(r.cfg.Now())
		case <-r.memory.wake:
			r.Reclaim()
		}
	}
}

// expire handles c's fired idle timer at now.
func (r *Registry) expire(c *Channel, now int64) {
	c.mu.Lock()
	if c.dead || len(c.subs) > 0 || len(c.waiters) > 0 {
		c.mu.Unlock() // busy: the last subscriber to leave re-arms
		return
	}
	if due := c.idleSince + int64(c.idleTTLLocked()); due > now {
		c.mu.Unlock()
		r.evictor.arm(c, due) // published to since it was armed
		return
	}
	c.mu.Unlock()
	if r.remove(c) {
		r.evictor.evicted.Add(1)
	}
}

// remove ends c's incarnation: it is marked dead (callers look the name up
// again), its ring released, the high-water mark raised above its ids, and
// it leaves the registry. Parked long-polls are woken (they poll again, on
// the next incarnation). It reports false if c was already gone.
func (r *Registry) remove(c *Channel) bool {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return false
	}
	c.dead = true
	r.raiseHighWater(c.last)
	cost := c.ring.Cost()
	c.ring.Clear()
	c.ringCost.Store(0)
	for _, w := range c.waiters {
		w.sink.Send(wake)
	}
	c.mu.Unlock()
	r.buffered(-cost)
	r.channels.Compute(c.name, func(cur *Channel, loaded bool) (*Channel, bool) {
		return cur, !loaded || cur == c // delete only this incarnation
	})
	r.count.Add(-1)
	if r.cfg.OnEvict != nil {
		r.cfg.OnEvict(c)
	}
	return true
}
