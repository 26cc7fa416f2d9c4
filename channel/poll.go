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

// Poll returns what a client whose last id is last has missed on channel
// name (without hasLast: nothing, the client starts from now). When that is
// nothing and wait is not nil, wait is registered, atomically, as a
// subscriber for the next event, outside the subscriber limit; the caller
// cancels the returned subscription when done. The channel is created if
// needed, like a subscribe.
func (r *Registry) Poll(name []byte, last uint64, hasLast bool, wait Sink) (Missed, *Subscription) {
	for {
		m, s, err := r.get(name).poll(last, hasLast, wait)
		if err != errDead {
			return m, s
		}
	}
}

func (c *Channel) poll(last uint64, hasLast bool, wait Sink) (Missed, *Subscription, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return Missed{}, nil, errDead
	}
	m := Missed{LastID: c.last}
	if hasLast {
		reset, after, replay := c.planLocked(last)
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
	return m, c.addLocked(wait), nil
}

// addLocked registers sink as a subscriber. c.mu is held.
func (c *Channel) addLocked(sink Sink) *Subscription {
	s := &Subscription{ch: c, sink: sink, idx: len(c.subs)}
	c.subs = append(c.subs, s)
	return s
}
