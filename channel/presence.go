package channel

import (
	"slices"
	"strings"

	"github.com/workkit/realtime/ring"
)

// Presence and revocation (SPEC 3.9): who is subscribed to a channel, and
// ending streams now rather than at their credential's expiry.

// ClosedEvent ends a stream for good: the client does not reconnect.
const ClosedEvent = "realtime.closed"

// Reasons of a realtime.closed frame.
const (
	ReasonRevoked = "revoked" // POST /disconnect
	ReasonDeleted = "deleted" // DELETE /channels/{channel}
)

// Ender is a sink that can be ended: a stream's connection.
type Ender interface {
	// End queues f as the stream's last frame (delivered whole) and closes
	// the stream once it is written, taking over the reference to f. It
	// reports whether this call ended the stream (false: it was ending
	// already).
	End(f *ring.Frame) bool
}

// PrincipalCount is one principal's streams on a channel.
type PrincipalCount struct {
	Principal string
	Streams   int
}

// Presence is who is subscribed to a channel (SPEC 3.9).
type Presence struct {
	Subscribers int
	Principals  []PrincipalCount // by principal, at most the limit asked for
	Truncated   bool             // there were more
}

// MaxPresence is the most principals a presence answer lists.
const MaxPresence = 1000

// Presence returns the channel's subscribers by principal, sorted, at
// most MaxPresence of them.
func (c *Channel) Presence() Presence { return SortPresence(c.Principals()) }

// Principals returns the channel's subscribers by principal, all of them,
// in no order.
func (c *Channel) Principals() Presence {
	c.mu.Lock()
	p := Presence{Subscribers: len(c.subs)}
	for name, who := range c.who {
		if name != "" { // anonymous streams (--auth none) are counted, not listed
			p.Principals = append(p.Principals, PrincipalCount{name, who.streams})
		}
	}
	c.mu.Unlock()
	return p
}

// SortPresence orders p's principals and cuts them to MaxPresence.
func SortPresence(p Presence) Presence {
	slices.SortFunc(p.Principals, func(a, b PrincipalCount) int { return strings.Compare(a.Principal, b.Principal) })
	if len(p.Principals) > MaxPresence {
		p.Principals, p.Truncated = p.Principals[:MaxPresence], true
	}
	return p
}

// Disconnect ends every stream of c whose principal matches (every one
// when match is nil) with a realtime.closed frame of reason, cancels their
// subscriptions (presence drops them at once, whether or not their client
// reads its last frame), and returns how many it ended. A member of a
// multiplexed stream gets the multiplexed form, naming the channel: only
// that channel of the stream ends.
func (c *Channel) Disconnect(match func(principal string) bool, reason string) int {
	var single, mux *ring.Frame
	defer func() {
		for _, f := range []*ring.Frame{single, mux} {
			if f != nil {
				f.Release()
			}
		}
	}()
	n := 0
	c.mu.Lock()
	for i := len(c.subs) - 1; i >= 0; i-- { // cancelLocked moves the last one into i
		s := c.subs[i]
		e, ok := s.sink.(Ender)
		if !ok || (match != nil && !match(s.who.name)) {
			continue
		}
		var f *ring.Frame
		if s.mux {
			if mux == nil {
				mux = ring.NewFrame()
				mux.SetBytes(AppendMuxClosed(mux.Buf(), c.name, reason))
			}
			f = mux
		} else {
			if single == nil {
				single = ring.NewFrame()
				single.SetBytes(AppendClosed(single.Buf(), reason))
			}
			f = single
		}
		f.Retain(1)
		if e.End(f) {
			n++
		}
		s.cancelLocked()
	}
	c.mu.Unlock()
	if n > 0 && c.reg.cfg.OnSubscribers != nil {
		c.reg.cfg.OnSubscribers(c)
	}
	return n
}

// Revocation selects the streams a disconnect ends (SPEC 3.9): those of
// a principal, of a channel, or of both at once.
type Revocation struct {
	Principal    string
	HasPrincipal bool
	Channel      []byte // nil: every channel
}

func (v Revocation) match() func(string) bool {
	if !v.HasPrincipal {
		return nil
	}
	return func(p string) bool { return p == v.Principal }
}

// Presence implements Engine: a channel that does not exist has nobody.
func (r *Registry) Presence(name []byte, _ func(Presence, error)) (Presence, error) {
	if c := r.Lookup(name); c != nil {
		return c.Presence(), nil
	}
	return Presence{}, nil
}

// Disconnect implements Engine: it ends the matching streams with
// realtime.closed (reason revoked) and returns how many it ended.
func (r *Registry) Disconnect(v Revocation, _ func(int, error)) (int, error) {
	match := v.match()
	if v.Channel != nil {
		if c := r.Lookup(v.Channel); c != nil {
			return c.Disconnect(match, ReasonRevoked), nil
		}
		return 0, nil
	}
	n := 0
	r.channels.Range(func(_ string, c *Channel) bool {
		n += c.Disconnect(match, ReasonRevoked)
		return true
	})
	return n, nil
}

// Delete implements Engine: it ends every stream of channel name (reason
// deleted), drops its buffer and ends its incarnation, so the next one
// starts above every id it issued (a later resume gets buffer_gap). It
// returns the streams ended; a channel that does not exist ends none.
func (r *Registry) Delete(name []byte, _ func(int, error)) (int, error) {
	c := r.Lookup(name)
	if c == nil {
		return 0, nil
	}
	n := c.Disconnect(nil, ReasonDeleted)
	r.remove(c)
	return n, nil
}
