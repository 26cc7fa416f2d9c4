package redisengine

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/redis/rueidis"
	"github.com/workkit/realtime/channel"
)

// Upkeep intervals.
const (
	pingInterval  = 250 * time.Millisecond // readiness: /readyz turns 503 within a second of a cut
	leaseInterval = time.Second            // node leases are renewed this often ...
	leaseTTL      = 3 * time.Second        // ... and count this long: a dead node's subscribers stop counting
	countInterval = 50 * time.Millisecond  // subscriber counts written at most this late
)

// upkeep connects, then pings Redis (readiness), renews this node's
// leases, writes changed subscriber counts and refreshes the keys of the
// channels this node serves, until the engine stops.
func (e *Engine) upkeep() {
	if !e.connect() {
		return
	}
	ping := time.NewTicker(pingInterval)
	counts := time.NewTicker(countInterval)
	defer ping.Stop()
	defer counts.Stop()
	var lastLease, lastTouch time.Time
	touchEvery := max(e.cfg.Channel.IdleTTL/4, countInterval)
	for {
		select {
		case <-e.stop:
			return
		case now := <-ping.C:
			e.ping()
			if now.Sub(lastLease) >= leaseInterval && e.up.Load() {
				e.renewLeases(now)
				lastLease = now
			}
		case now := <-counts.C:
			if now.Sub(lastTouch) >= touchEvery {
				e.touchServed()
				lastTouch = now
			}
			e.writeCounts()
		}
	}
}

// ping checks that Redis answers within min(--redis-timeout, 500 ms).
func (e *Engine) ping() {
	c := e.cmd()
	ctx, cancel := context.WithTimeout(context.Background(), min(e.cfg.Timeout, 500*time.Millisecond))
	defer cancel()
	start := time.Now()
	err := c.Do(ctx, c.B().Ping().Build()).Error()
	if err != nil {
		if e.up.Swap(false) {
			e.log.Warn("redis: unreachable", "err", err)
		}
		return
	}
	e.rtt.Store(int64(time.Since(start)))
	if !e.up.Swap(true) {
		e.log.Info("redis: reachable", "url", Redacted(e.cfg.URL))
	}
}

// renewLeases writes this node's lease in every partition: its
// subscribers count in `delivered` and channel info until the lease ends.
func (e *Engine) renewLeases(now time.Time) {
	c := e.cmd()
	until := strconv.FormatInt(now.Add(leaseTTL).UnixMilli(), 10)
	cmds := make(rueidis.Commands, 0, 2*len(e.parts))
	for _, p := range e.parts {
		cmds = append(cmds,
			c.B().Hset().Key(p.pp+"nodes").FieldValue().FieldValue(e.node, until).Build(),
			c.B().Pexpire().Key(p.pp+"nodes").Milliseconds(60_000).Build())
	}
	ctx, cancel := e.timeout()
	defer cancel()
	for _, r := range c.DoMulti(ctx, cmds...) {
		if r.Error() != nil {
			e.stats.upkeepErrors.Add(1)
		}
	}
}

// touchServed marks every channel with local subscribers: its count is
// written again and its keys' TTL refreshed, so Redis keeps a channel that
// has subscribers but no publishes, as the memory engine does.
func (e *Engine) touchServed() {
	e.mirrors.Range(func(name string, m *mirror) bool {
		m.mu.Lock()
		served := m.ch != nil && m.ch.Subscribers() > 0
		m.mu.Unlock()
		if served {
			e.dirty.mark(name)
		}
		return true
	})
}

// writeCounts writes the subscriber counts that changed: one hash field
// per node and channel, and the channel keys' TTL; a write that empties or
// first fills a channel (counting every node) is reported to the Watch
// hook.
func (e *Engine) writeCounts() {
	names := e.dirty.take()
	if len(names) == 0 || !e.up.Load() {
		e.dirty.putBack(names)
		return
	}
	c := e.cmd()
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	calls := make([]call, 0, len(names))
	for _, name := range names {
		k, _ := e.keysOf(name)
		n := 0
		if m, ok := e.mirrors.Load(name); ok {
			m.mu.Lock()
			if m.ch != nil && m.state != gone {
				n = m.ch.Subscribers()
			}
			m.mu.Unlock()
		}
		calls = append(calls, call{keys: []string{k.counts, k.nodes, k.meta, k.stream},
			args: []string{e.node, strconv.Itoa(n), now, e.ttl}})
	}
	ctx, cancel := e.timeout()
	defer cancel()
	var failed []string
	for i, r := range countScript.execMulti(ctx, c, calls) {
		v, err := r.AsIntSlice()
		if err != nil || len(v) != 2 {
			failed = append(failed, names[i])
			continue
		}
		if fn := e.watch; fn != nil && (v[0] == 0) != (v[1] == 0) {
			fn(names[i], v[1] > 0)
		}
	}
	if len(failed) > 0 {
		e.stats.upkeepErrors.Add(1)
		e.dirty.putBack(failed)
	}
}

// Watch implements channel.Engine: occupancy counts every live node's
// streams, as written every countInterval (a stream that comes and goes
// within it is not reported).
func (e *Engine) Watch(fn func(name string, occupied bool)) { e.watch = fn }

// onSubscribers is the mirrors' registry's hook: a channel's number of
// local streams changed.
func (e *Engine) onSubscribers(c *channel.Channel) { e.dirty.mark(c.Name()) }

// dirtySet is the set of channels whose subscriber count must be written.
type dirtySet struct {
	mu    sync.Mutex
	names map[string]struct{} // guarded by mu
}

func (d *dirtySet) init() { d.names = map[string]struct{}{} }

func (d *dirtySet) mark(name string) {
	d.mu.Lock()
	d.names[name] = struct{}{}
	d.mu.Unlock()
}

// take empties the set and returns what it held.
func (d *dirtySet) take() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.names))
	for n := range d.names {
		out = append(out, n)
	}
	clear(d.names)
	return out
}

// putBack marks names again (their write failed).
func (d *dirtySet) putBack(names []string) {
	for _, n := range names {
		d.mark(n)
	}
}

// later runs job on a syncer after a pause (a repair that failed).
func (e *Engine) later(job func(context.Context)) {
	time.AfterFunc(250*time.Millisecond+rand.N(250*time.Millisecond), func() { e.syncq.push(job) })
}

// backoff is a jittered exponential wait between reconnects: never a busy
// loop while Redis is down, and nodes do not come back in step.
type backoff struct {
	min, max time.Duration
	cur      time.Duration
}

// sleep waits the next delay, or until stop; it reports false on stop.
func (b *backoff) sleep(stop <-chan struct{}) bool {
	b.cur = min(max(2*b.cur, b.min), b.max)
	t := time.NewTimer(b.cur/2 + rand.N(b.cur/2+1))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	}
}

func (b *backoff) reset() { b.cur = 0 }
