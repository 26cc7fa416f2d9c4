package redisengine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/puzpuzpuz/xsync/v3"
	"github.com/redis/rueidis"
	"github.com/workkit/realtime/channel"
)

// Engine is the Redis engine: a channel.Engine whose channels are shared by
// every node on the same Redis. Create it with New; the broker runs it
// (Run) and stops it. Safe for concurrent use.
//
// Goroutines (none per connection or per request):
//
//	publishers  numPublishers: batch queued publishes into one pipelined round each
//	syncers     numSyncers: joins (subscribe + read history) and repairs of mirrors, channel info
//	partitions  one per partition: its pub/sub connection (rueidis runs its reader)
//	upkeep      one: readiness pings, node leases, subscriber counts, key TTLs
//	evictor     the mirrors' registry: idle mirrors, replay memory
type Engine struct {
	cfg     Config       // immutable
	log     *slog.Logger // immutable
	node    string       // immutable: this node's id, random per process
	cluster bool         // immutable: a Redis Cluster (sharded pub/sub)
	ttl     string       // immutable: the keys' TTL in ms (--channel-idle-ttl)
	maxlen  string       // immutable: the streams' MAXLEN (--replay-buffer)
	reg     *channel.Registry
	parts   []*partition // immutable after New

	clients atomic.Pointer[clients] // nil until connected (New retries in the background)
	mirrors *xsync.MapOf[string, *mirror]
	hw      atomic.Uint64 // the highest id this node has seen: new incarnations start above it

	pubq  *queue[*pubJob]
	syncq *queue[func(context.Context)]
	dirty dirtySet                         // channels whose subscriber count must be written to Redis
	ctl   control                          // presence, disconnect and delete requests waiting for the nodes' answers
	watch func(name string, occupied bool) // set by Watch before Run

	up    atomic.Bool  // the last readiness ping was answered in time
	rtt   atomic.Int64 // its round trip, ns
	stats engineStats

	stop chan struct{}
	wg   sync.WaitGroup
}

// clients are the engine's two rueidis clients: one auto-pipelined for
// commands, one whose dedicated connections carry pub/sub (small buffers:
// they only read).
type clients struct {
	cmd, sub rueidis.Client
}

// Goroutine counts.
const (
	numPublishers = 4
	numSyncers    = 16
	maxBatch      = 256 // publishes in one pipelined round
)

var _ channel.Engine = (*Engine)(nil)

// New returns an engine for cfg; it connects to Redis in the background
// (until it is connected, Ready is false and requests get ErrUnavailable).
func New(cfg Config, log *slog.Logger) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	_, cluster, _ := parseURL(cfg.URL)
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	e := &Engine{
		cfg:     cfg,
		log:     log,
		node:    hex.EncodeToString(id),
		cluster: cluster,
		ttl:     strconv.FormatInt(cfg.Channel.IdleTTL.Milliseconds(), 10),
		maxlen:  strconv.Itoa(cfg.Channel.ReplayBuffer),
		mirrors: xsync.NewMapOf[string, *mirror](),
		pubq:    newQueue[*pubJob](),
		syncq:   newQueue[func(context.Context)](),
		stop:    make(chan struct{}),
	}
	e.dirty.init()
	rc := cfg.Channel
	rc.OnEvict, rc.OnSubscribers = e.onEvict, e.onSubscribers
	// A mirror is a cache of what Redis holds: it goes idle half as long as
	// the channel's keys live (refreshed when its last subscriber leaves),
	// so it never outlives them and a later subscriber reads Redis again.
	rc.IdleTTL = cfg.Channel.IdleTTL / 2
	e.reg = channel.NewRegistry(rc)
	for i, tag := range partitionTags(numPartitions) {
		e.parts = append(e.parts, newPartition(e, i, partitionPrefix(cfg.Prefix, tag)))
	}
	return e, nil
}

// Local implements channel.Engine: answers may need a round trip.
func (e *Engine) Local() bool { return false }

// Ready implements channel.Engine: Redis answers pings in time and every
// partition's pub/sub connection is up.
func (e *Engine) Ready() bool {
	if !e.up.Load() {
		return false
	}
	for _, p := range e.parts {
		if !p.up.Load() {
			return false
		}
	}
	return true
}

// Counters implements channel.Engine: the mirrors' figures.
func (e *Engine) Counters() channel.Counters { return e.reg.Counters() }

// Run implements channel.Engine: it connects and keeps the engine's
// goroutines running until stop is closed, then fails what is still
// queued and closes the connections.
func (e *Engine) Run(stop <-chan struct{}) {
	e.spawn(func() { e.reg.Run(e.stop) })
	e.spawn(e.upkeep)
	for range numPublishers {
		e.spawn(e.publisher)
	}
	for range numSyncers {
		e.spawn(e.syncer)
	}
	for _, p := range e.parts {
		e.spawn(p.run)
	}
	<-stop
	close(e.stop)
	for _, j := range e.pubq.close() {
		j.fail(channel.ErrUnavailable)
	}
	for _, f := range e.syncq.close() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		f(ctx) // a cancelled context fails the job at once
	}
	e.wg.Wait()
	if c := e.clients.Load(); c != nil {
		e.dropLeases(c.cmd)
		c.cmd.Close()
		c.sub.Close()
	}
}

// dropLeases removes this node's leases when it stops, so that the
// partitions' node hashes, read by every publish, do not keep a field per
// node that ever ran (a killed node's stay until the hash's TTL, a minute
// after the last renewal of any node).
func (e *Engine) dropLeases(c rueidis.Client) {
	ctx, cancel := e.timeout()
	defer cancel()
	cmds := make(rueidis.Commands, 0, len(e.parts))
	for _, p := range e.parts {
		cmds = append(cmds, c.B().Hdel().Key(p.pp+"nodes").Field(e.node).Build())
	}
	for _, r := range c.DoMulti(ctx, cmds...) {
		if r.Error() != nil {
			e.stats.upkeepErrors.Add(1)
		}
	}
}

func (e *Engine) spawn(f func()) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f()
	}()
}

// connect makes the rueidis clients, retrying with jittered backoff until
// Redis answers or the engine stops. It runs on the upkeep goroutine.
func (e *Engine) connect() bool {
	b := backoff{min: 100 * time.Millisecond, max: 5 * time.Second}
	for {
		c, err := e.newClients()
		if err == nil {
			e.clients.Store(c)
			return true
		}
		e.stats.connectErrors.Add(1)
		e.log.Warn("redis: cannot connect", "url", Redacted(e.cfg.URL), "err", err)
		if !b.sleep(e.stop) {
			return false
		}
	}
}

func (e *Engine) newClients() (*clients, error) {
	addrs, cluster, _ := parseURL(e.cfg.URL)
	opt := rueidis.ClientOption{InitAddress: addrs, ForceSingleClient: !cluster}
	if u, err := url.Parse(e.cfg.URL); err == nil && cluster && u.User != nil {
		opt.Username = u.User.Username()
		opt.Password, _ = u.User.Password()
	}
	if !cluster {
		parsed, err := rueidis.ParseURL(e.cfg.URL)
		if err != nil {
			return nil, err
		}
		opt = parsed
		opt.ForceSingleClient = true
	}
	opt.DisableCache = true // we never read a key twice: no CLIENT TRACKING
	opt.ClientName = "realtime-" + e.node
	opt.Dialer.Timeout = e.cfg.Timeout
	opt.Dialer.KeepAlive = time.Second
	opt.ConnWriteTimeout = max(2*e.cfg.Timeout, 2*time.Second)
	opt.ReadBufferEachConn, opt.WriteBufferEachConn = 128<<10, 128<<10
	// One connection per Redis node, auto-pipelined: the readiness ping
	// then checks the very connection publishes use (with several, a
	// publish could go out on a stale one the ping never saw).
	opt.PipelineMultiplex = -1
	cmd, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, err
	}
	opt.ReadBufferEachConn, opt.WriteBufferEachConn = 64<<10, 16<<10
	opt.ClientName = "realtime-" + e.node + "-sub"
	sub, err := rueidis.NewClient(opt)
	if err != nil {
		cmd.Close()
		return nil, err
	}
	return &clients{cmd: cmd, sub: sub}, nil
}

// cmd returns the command client, nil while not connected.
func (e *Engine) cmd() rueidis.Client {
	if c := e.clients.Load(); c != nil {
		return c.cmd
	}
	return nil
}

// raiseHW records that id exists: new incarnations start above it.
func (e *Engine) raiseHW(id uint64) {
	for {
		hw := e.hw.Load()
		if id <= hw || e.hw.CompareAndSwap(hw, id) {
			return
		}
	}
}

// timeout returns a context bounded by --redis-timeout.
func (e *Engine) timeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), e.cfg.Timeout)
}

// keysOf returns the keys of channel name and its partition.
func (e *Engine) keysOf(name string) (keys, *partition) {
	p := e.parts[partitionOf(name, len(e.parts))]
	return channelKeys(p.pp, name), p
}

// syncer runs sync jobs (joins, repairs, info) until the engine stops.
func (e *Engine) syncer() {
	var buf []func(context.Context)
	for {
		buf = e.syncq.pop(buf, 1)
		if len(buf) == 0 {
			return
		}
		ctx, cancel := e.timeout()
		buf[0](ctx)
		cancel()
		buf[0] = nil
	}
}
