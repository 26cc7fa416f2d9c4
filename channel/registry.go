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
	MaxChannels    int              // channels held at once; 0 means no limit
	ReplayMemory   int64            // bytes of buffered events over all channels; 0 means no limit
	IdleTTL        time.Duration    // a channel idle this long may be evicted
	PollTTL        time.Duration    // ... one that only polls touched, this long (at most IdleTTL)
	Now            func() time.Time // clock for id bases and idleness; nil means time.Now

	// Hooks for an engine that mirrors channels numbered elsewhere (nil for
	// the memory engine). They run outside every channel lock.
	OnEvict       func(c *Channel) // c was evicted for idleness
	OnSubscribers func(c *Channel) // c's number of streams changed

	// OnOccupancy, if set, is told when a channel gets its first stream
	// (occupied) and when its last one leaves (lifecycle webhooks, SPEC
	// 3.9). It runs under the channel's lock, so that the calls of one
	// channel come in order: it must not block nor call back into the
	// channel (lifecycle.Sender.Notify only queues).
	OnOccupancy func(name string, occupied bool)
}

// DefaultConfig returns the defaults of SPEC section 2.
func DefaultConfig() Config {
	return Config{ReplayBuffer: 50, MaxSubscribers: 1000, MaxChannels: 100_000, ReplayMemory: 256 << 20,
		IdleTTL: 5 * time.Minute, PollTTL: 10 * time.Second}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.ReplayBuffer < 0:
		return errors.New("channel: replay buffer must not be negative")
	case c.MaxSubscribers < 0:
		return errors.New("channel: max subscribers must not be negative")
	case c.MaxChannels < 0:
		return errors.New("channel: max channels must not be negative")
	case c.ReplayMemory < 0:
		return errors.New("channel: replay memory must not be negative")
	case c.IdleTTL <= 0 || c.PollTTL <= 0:
		return errors.New("channel: idle TTLs must be positive")
	}
	return nil
}

// Registry maps names to channels. It is sharded (xsync.MapOf) so lookups
// by many publishers and subscribers do not contend. Safe for concurrent use.
type Registry struct {
	cfg      Config                         // immutable
	channels *xsync.MapOf[string, *Channel] // the live incarnation of each name
	count    atomic.Int64                   // channels held, reserved before one is created (MaxChannels)
	// highWater is at or above every id of every evicted incarnation: a
	// new incarnation's base is always above it (SPEC 3.2).
	highWater atomic.Uint64
	evictor   *evictor // idle-channel eviction
	memory    memory   // the --replay-memory budget
	stats     Stats
}

// Stats are the registry's counters; safe for concurrent use.
type Stats struct {
	Publishes     atomic.Uint64 // events published
	Deliveries    atomic.Uint64 // frames queued to subscribers by publishes
	Replays       atomic.Uint64 // subscribes that replayed buffered events
	ResetsGap     atomic.Uint64 // buffer_gap resets sent (streams and polls)
	ResetsOverrun atomic.Uint64 // buffer_overrun resets sent (streams and polls)
	Refused       atomic.Uint64 // channels not created: MaxChannels reached
	Dropped       atomic.Uint64 // buffered events dropped to keep within ReplayMemory
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
	cfg.PollTTL = min(cfg.PollTTL, cfg.IdleTTL)
	r := &Registry{
		cfg:      cfg,
		channels: xsync.NewMapOf[string, *Channel](),
		evictor:  newEvictor(min(cfg.IdleTTL, cfg.PollTTL), cfg.Now().UnixNano()),
	}
	r.memory.init(cfg.ReplayMemory)
	return r
}

// Publish implements Engine: it publishes one event to the channel called
// name, creating it if needed. data must be compact JSON; neither slice is
// retained. It fails only with ErrTooManyChannels.
func (r *Registry) Publish(name, event, data []byte, _ func(Published, error)) (Published, error) {
	for {
		c, err := r.get(name, true)
		if err != nil {
			return Published{}, err
		}
		p, err := c.publish(event, data, r.nowNano())
		if err != ErrEvicted {
			return p, err
		}
	}
}

// Subscribe implements Engine: it adds sink to the channel called name as
// a stream, creating the channel if needed, and sends the opening, reset
// and replay of o (SPEC 3.1, 3.2) before live events. It returns ErrFull at
// the subscriber limit or ErrTooManyChannels, having sent nothing.
func (r *Registry) Subscribe(name []byte, sink Sink, o Open, _ func(*Subscription, error)) (*Subscription, error) {
	for {
		c, err := r.get(name, true)
		if err != nil {
			return nil, err
		}
		s, err := c.Subscribe(sink, o)
		if err != ErrEvicted {
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
func (r *Registry) Len() int { return int(r.count.Load()) }

// get returns the live channel called name, creating it unless that would
// exceed MaxChannels. used says whether a publish or a stream (rather than
// a poll) asks, which decides how long a new channel may stay idle.
func (r *Registry) get(name []byte, used bool) (*Channel, error) {
	if c, ok := r.channels.Load(unsafeString(name)); ok {
		return c, nil
	}
	if n := r.count.Add(1); r.cfg.MaxChannels > 0 && n > int64(r.cfg.MaxChannels) {
		r.count.Add(-1)
		r.stats.Refused.Add(1)
		return nil, ErrTooManyChannels
	}
	key := strings.Clone(string(name))
	c, loaded := r.channels.LoadOrCompute(key, func() *Channel { return r.newChannel(key) })
	if loaded {
		r.count.Add(-1)
		return c, nil
	}
	// New and idle: evicted unless a subscriber joins or a publish comes
	// within its TTL (the timer then re-checks).
	ttl := r.cfg.IdleTTL
	if !used {
		ttl = r.cfg.PollTTL
	}
	r.evictor.arm(c, r.nowNano()+int64(ttl))
	return c, nil
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
