package channel

import "github.com/workkit/realtime/ring"

// Missed is what a client with a given last id has missed (SPEC 3.5): an
// optional reset, then buffered events. The caller owns one reference to
// each frame and must call Release.
type Missed struct {
	Reset  Reset         // Reason empty for none
	Frames []*ring.Frame // buffered events, oldest first
	LastID uint64        // the channel's last id when this was taken
}

// Empty reports whether there is nothing to deliver.
func (m *Missed) Empty() bool { return m.Reset.Reason == "" && len(m.Frames) == 0 }

// Release drops the references to the frames.
func (m *Missed) Release() {
	for i, f := range m.Frames {
		f.Release()
		m.Frames[i] = nil
	}
	m.Frames = m.Frames[:0]
}

// Poll implements Engine: it returns what a client whose last id is q.Last
// has missed on channel name (without q.HasLast: nothing, the client
// starts from now). When that is nothing and wait is not nil, wait is
// registered, atomically, as a parked long-poll: it is sent the next
// event, but it is not a subscriber (not counted against the subscriber
// limit, in Info or in Delivered). The caller cancels the returned
// subscription when done. The channel is created if needed; one that only
// polls touch is evicted after PollTTL.
func (r *Registry) Poll(name []byte, q PollQuery, wait Sink, _ func(Missed, *Subscription, error)) (Missed, *Subscription, error) {
	for {
		c, err := r.get(name, false)
		if err != nil {
			return Missed{}, nil, err
		}
		m, s, err := c.Poll(q, wait)
		if err != ErrEvicted {
			return m, s, err
		}
	}
}

// Poll answers a poll on c; see Registry.Poll. It fails only when c was
// evicted meanwhile (the caller looks the name up again).
func (c *Channel) Poll(q PollQuery, wait Sink) (Missed, *Subscription, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return Missed{}, nil, ErrEvicted
	}
	m := Missed{LastID: c.last}
	if q.HasLast {
		reset, after, replay := c.planLocked(q.Last)
		m.Reset = reset
		if reset.Reason != "" {
			c.reg.countReset(reset.Reason)
		}
		if replay {
			_ = c.ring.After(after, func(f *ring.Frame) {
				f.Retain(1)
				m.Frames = append(m.Frames, f)
			})
		}
	}
	if !m.Empty() || wait == nil {
		return m, nil, nil
	}
	return m, c.addLocked(wait, true), nil
}
