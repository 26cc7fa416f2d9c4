package channel

import "github.com/workkit/realtime/ring"

// Mirrors. An engine that shares channels between nodes (the Redis engine)
// numbers events in its store and keeps a Channel per channel it serves
// locally, as a mirror of the store's history: local subscribers, resumes
// and polls are served from it without a round trip. The engine creates a
// mirror with Adopt once it has read the history, feeds it with Apply as
// events arrive, and calls Resync with a fresh history after it missed
// events or the store started a new incarnation.

// Event is one event of a history.
type Event struct {
	ID         uint64
	Name, Data []byte // Data is compact JSON
}

// ApplyResult says what Apply did with an event.
type ApplyResult int

const (
	Applied   ApplyResult = iota // the next event: sent to every subscriber and stored
	Duplicate                    // held already: dropped
	Missing                      // events before it are missing, or it belongs to another incarnation: dropped, Resync needed
	Gone                         // the channel was evicted: the engine forgets its mirror
)

// wake is what a parked long-poll is sent when a Resync changed the
// channel under it: any frame wakes it, and the poll is answered from the
// ring.
var wake = ring.Static(nil)

// Adopt creates the channel called name with the state of a history (see
// Resync), counting against MaxChannels; used says whether a stream (not a
// poll) asked for it, which decides its idle TTL. If the channel exists it
// is resynced.
func (r *Registry) Adopt(name []byte, base, last uint64, events []Event, used bool) (*Channel, error) {
	c, err := r.get(name, used)
	if err != nil {
		return nil, err
	}
	c.Resync(base, last, events)
	return c, nil
}

// Apply stores and fans out event id of incarnation base, numbered by the
// engine's store. Only the next event (last+1 of the same incarnation) is
// applied.
func (c *Channel) Apply(base, id uint64, event, data []byte) ApplyResult {
	c.mu.Lock()
	switch {
	case c.dead:
		c.mu.Unlock()
		return Gone
	case base != c.base || id > c.last+1:
		c.mu.Unlock()
		return Missing
	case id <= c.last:
		c.mu.Unlock()
		return Duplicate
	}
	c.appendAndUnlock(id, event, data, c.reg.nowNano())
	return Applied
}

// Resync replaces c's state with a history read from the store —
// incarnation base, last id, the buffered events oldest first — and brings
// every subscriber up to date as if it had reconnected with the last id it
// had (SPEC 3.2, 7): the events it missed, or a reset (buffer_gap for a new
// incarnation, buffer_overrun for events no longer held) and then the
// whole buffer. Parked long-polls are woken to answer from the new state.
// A history of the same incarnation that is not newer is ignored.
func (c *Channel) Resync(base, last uint64, events []Event) {
	fresh := ring.New(c.reg.cfg.ReplayBuffer)
	for _, e := range events {
		f := ring.NewFrame()
		f.ID = e.ID
		f.SetBytes(AppendEvent(f.Buf(), e.ID, e.Name, e.Data))
		if ev := fresh.Push(f); ev != nil {
			ev.Release()
		}
	}
	c.mu.Lock()
	if c.dead || (base == c.base && last <= c.last) {
		c.mu.Unlock()
		fresh.Clear()
		return
	}
	old, had := c.ring, c.last
	before := old.Cost()
	c.ring, c.base, c.last = fresh, base, last
	c.ringCost.Store(fresh.Cost())
	for _, s := range c.subs {
		c.replayLocked(s.sink, had, s.mux)
	}
	for _, w := range c.waiters {
		w.sink.Send(wake)
	}
	c.mu.Unlock()
	c.reg.buffered(fresh.Cost() - before)
	old.Clear()
}

// Position returns c's incarnation base and last id.
func (c *Channel) Position() (base, last uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base, c.last
}

// Ahead reports whether a client's last id is above the channel's last id
// in the current incarnation: the client has seen an event c has not got
// yet (a mirror behind its store).
func (c *Channel) Ahead(last uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return last > c.last
}

// Subscribers returns the number of streams on c.
func (c *Channel) Subscribers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.subs)
}

// Name returns the channel's name.
func (c *Channel) Name() string { return c.name }
