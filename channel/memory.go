package channel

import (
	"slices"
	"sync/atomic"

	"github.com/workkit/realtime/ring"
)

// memory keeps the events buffered over all channels within
// Config.ReplayMemory (SPEC 5). Publishes count what their rings hold; past
// the budget, the reclaimer (run by Registry.Run) drops the oldest events
// of the least recently published channels until the total is back under
// 90 % of it. A resume that needed a dropped event then gets
// buffer_overrun, as it would had the ring pushed it out.
type memory struct {
	budget int64         // immutable; 0: no limit
	used   atomic.Int64  // sum of the rings' Cost
	wake   chan struct{} // signalled when used passes budget; capacity 1

	scratch []*Channel // reclaimer goroutine only
}

func (m *memory) init(budget int64) {
	m.budget = budget
	m.wake = make(chan struct{}, 1)
}

// buffered records that the rings hold delta more bytes, and wakes the
// reclaimer when that passes the budget. It never blocks.
func (r *Registry) buffered(delta int64) {
	m := &r.memory
	if n := m.used.Add(delta); m.budget > 0 && n > m.budget {
		select {
		case m.wake <- struct{}{}:
		default:
		}
	}
}

// BufferedBytes returns the memory the replay rings hold.
func (r *Registry) BufferedBytes() int64 { return r.memory.used.Load() }

// Reclaim brings the buffered events back under 90 % of ReplayMemory when
// they exceed it, dropping the oldest events of the least recently
// published channels first. Run calls it when a publish passes the
// budget; it must not be called concurrently with itself.
func (r *Registry) Reclaim() {
	m := &r.memory
	if m.budget == 0 || m.used.Load() <= m.budget {
		return
	}
	target := m.budget - m.budget/10
	cands := m.scratch[:0]
	r.channels.Range(func(_ string, c *Channel) bool {
		if c.ringCost.Load() > 0 {
			cands = append(cands, c)
		}
		return true
	})
	slices.SortFunc(cands, func(a, b *Channel) int {
		x, y := a.lastPub.Load(), b.lastPub.Load()
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	for _, c := range cands {
		if m.used.Load() <= target {
			break
		}
		c.trim(target)
	}
	clear(cands)
	m.scratch = cands[:0]
}

// trim drops c's oldest buffered events while the registry holds more than
// target bytes.
func (c *Channel) trim(target int64) {
	var dropped []*ring.Frame
	var freed int64
	c.mu.Lock()
	for c.ring.Len() > 0 && c.reg.memory.used.Load()-freed > target {
		f := c.ring.DropOldest()
		freed += f.Cost()
		dropped = append(dropped, f)
	}
	c.ringCost.Store(c.ring.Cost())
	c.mu.Unlock()
	c.reg.memory.used.Add(-freed)
	c.reg.stats.Dropped.Add(uint64(len(dropped)))
	for _, f := range dropped {
		f.Release()
	}
}
