package channel

import (
	"errors"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/puzpuzpuz/xsync/v3"
	"github.com/workkit/realtime/ring"
)

// Config sizes the channels of a Registry.
type Config struct {
	ReplayBuffer   int              // events kept per channel (SPEC --replay-buffer)
	MaxSubscribers int              // subscribers per channel; 0 means no limit
	IdleTTL        time.Duration    // a channel idle this long may be evicted
	Now            func() time.Time // clock for id bases and idleness; nil means time.Now
}

// DefaultConfig returns the defaults of SPEC section 2.
func DefaultConfig() Config {
	return Config{ReplayBuffer: 50, MaxSubscribers: 1000, IdleTTL: 5 * time.Minute}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.ReplayBuffer < 0:
		return errors.New("channel: replay buffer must not be negative")
	case c.MaxSubscribers < 0:
		return errors.New("channel: max subscribers must not be negative")
	case c.IdleTTL <= 0:
		return errors.New("channel: idle TTL must be positive")
	}
	return nil
}

// Registry maps names to channels. It is sharded (xsync.MapOf) so lookups
// by many publishers and subscribers do not contend. Safe for concurrent use.
type Registry struct {
	cfg      Config                         // immutable
	channels *xsync.MapOf[string, *Channel] // the live incarnation of each name
	// highWater is at or above every id of every evicted incarnation: a
	// new incarnation's base is always above it (SPEC 3.2).
	highWater atomic.Uint64
	evictor   *evictor // idle-channel eviction
	stats     Stats
}

// Stats are the registry's counters; safe for concurrent use.
type Stats struct {
	Publishes     atomic.Uint64 // events published
	Deliveries    atomic.Uint64 // frames queued to subscribers by publishes
	Replays       atomic.Uint64 // subscribes that replayed buffered events
	ResetsGap     atomic.Uint64 // buffer_gap resets sent (streams and polls)
	ResetsOverrun atomic.Uint64 // buffer_overrun resets sent (streams and polls)
}

// Stats returns the registry's counters.
func (r *Registry) Stats() *Stats { return &r.stats }

// countReset counts a reset by reason.
func (r *Registry) countReset(reason string) {
	if reason == ReasonBufferGap {
		r.stats.ResetsGap.Add(1)
	} else {
		r.stats.ResetsOverrun.Add(1)
	}
}

// NewRegistry returns an empty registry. cfg must be valid.
func NewRegistry(cfg Config) *Registry {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Registry{
		cfg:      cfg,
		channels: xsync.NewMapOf[string, *Channel](),
		evictor:  newEvictor(cfg.IdleTTL, cfg.Now().UnixNano()),
	}
}

// Publish publishes one event to the channel called name, creating it if
// needed. data must be compact JSON; neither slice is retained.
func (r *Registry) Publish(name, event, data []byte) (Published, error) {
	for {
		p, err := r.get(name).publish(event, data, r.nowNano())
		if err != errDead {
			return p, err
		}
	}
}

// Subscribe adds sink to the channel called name, creating it if needed.
// With hasLast, last is the client's Last-Event-ID and the reset and replay
// of SPEC 3.2 are sent before live events. head, if not nil, is sent first
// (the stream's response head); the caller keeps its reference. Returns
// ErrFull at the subscriber limit, having sent nothing.
func (r *Registry) Subscribe(name []byte, sink Sink, last uint64, hasLast bool, head *ring.Frame) (*Subscription, error) {
	for {
		s, err := r.get(name).subscribe(sink, last, hasLast, head)
		if err != errDead {
			return s, err
		}
	}
}

// Lookup returns the live channel called name, or nil.
func (r *Registry) Lookup(name []byte) *Channel {
	c, _ := r.channels.Load(unsafeString(name))
	return c
}

// Len returns the number of live channels.
func (r *Registry) Len() int { return r.channels.Size() }

// get returns the live channel called name, creating it.
func (r *Registry) get(name []byte) *Channel {
	if c, ok := r.channels.Load(unsafeString(name)); ok {
		return c
	}
	key := strings.Clone(string(name))
	c, loaded := r.channels.LoadOrCompute(key, func() *Channel { return r.newChannel(key) })
	if loaded {
		return c
	}
	// New and idle: evicted unless a subscriber joins or a publish comes
	// within the TTL (the timer then re-checks).
	r.evictor.arm(c, r.nowNano()+int64(r.cfg.IdleTTL))
	return c
}

// newChannel starts a new incarnation of name: its base is no lower than
// the current Unix time in microseconds and above every id of an evicted
// incarnation, so an id held from an earlier incarnation is always detected.
func (r *Registry) newChannel(name string) *Channel {
	base := uint64(r.cfg.Now().UnixMicro())
	if hw := r.highWater.Load(); base <= hw {
		base = hw + 1
	}
	c := &Channel{
		name:      name,
		reg:       r,
		base:      base,
		last:      base,
		ring:      ring.New(r.cfg.ReplayBuffer),
		idleSince: r.nowNano(),
	}
	c.evict.Value = c
	return c
}

// raiseHighWater makes every later base exceed id.
func (r *Registry) raiseHighWater(id uint64) {
	for {
		hw := r.highWater.Load()
		if id <= hw || r.highWater.CompareAndSwap(hw, id) {
			return
		}
	}
}

func (r *Registry) nowNano() int64 { return r.cfg.Now().UnixNano() }

// unsafeString views b as a string for a map lookup that does not keep it.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
