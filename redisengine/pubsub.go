package redisengine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// partition is one of the engine's partitions of channels: the hash tag of
// their keys and one dedicated pub/sub connection carrying all their
// events to this node. Its goroutine (run) owns the connection: it
// connects, subscribes to every channel this node mirrors in the
// partition, then serves subscribe and unsubscribe requests in order until
// the connection fails, and starts again with a jittered backoff. A
// connection that delivers nothing, not even a probe, for two probe
// intervals is taken as deaf and replaced.
type partition struct {
	e     *Engine // immutable
	idx   int     // immutable
	pp    string  // immutable: key prefix "<prefix>{<tag>}:"
	probe string  // immutable: the pub/sub channel the connection is probed on

	reqs     chan subReq   // subscribe/unsubscribe requests, served in order by run
	up       atomic.Bool   // subscribed to everything it should be
	received atomic.Uint64 // messages received, probes included

	mu     sync.Mutex
	unsubs map[string]int // guarded by mu: our own unsubscribes not yet confirmed
}

// subReq asks the partition's connection to (un)subscribe a pub/sub
// channel; done (nil for an unsubscribe) gets the result.
type subReq struct {
	channel string
	unsub   bool
	done    chan error
}

// probeInterval is how often an idle pub/sub connection is probed.
const probeInterval = 2 * time.Second

var errDeaf = errors.New("redisengine: pub/sub connection delivers nothing")

func newPartition(e *Engine, idx int, pp string) *partition {
	return &partition{e: e, idx: idx, pp: pp, probe: pp + "probe", reqs: make(chan subReq, 4096), unsubs: map[string]int{}}
}

// subscribe subscribes the connection to a pub/sub channel and waits for
// the confirmation, within ctx.
func (p *partition) subscribe(ctx context.Context, ch string) error {
	r := subReq{channel: ch, done: make(chan error, 1)}
	select {
	case p.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// unsubscribe asks for an unsubscribe without waiting; when the queue is
// full it is dropped (a stale subscription only brings messages nobody
// reads, and the next connection does not make it again).
func (p *partition) unsubscribe(ch string) {
	select {
	case p.reqs <- subReq{channel: ch, unsub: true}:
	default:
	}
}

// run keeps the partition connected until the engine stops.
func (p *partition) run() {
	b := backoff{min: 50 * time.Millisecond, max: 5 * time.Second}
	for {
		start := time.Now()
		err := p.session()
		p.up.Store(false)
		if err == nil { // stopped
			p.failRequests()
			return
		}
		p.e.stats.pubsubReconnects.Add(1)
		p.forEachMirror(func(m *mirror) { m.lost() })
		if time.Since(start) > time.Minute {
			b.reset()
		}
		if !b.sleep(p.e.stop) {
			p.failRequests()
			return
		}
	}
}

// failRequests answers the requests queued when the engine stops.
func (p *partition) failRequests() {
	for {
		select {
		case r := <-p.reqs:
			if r.done != nil {
				r.done <- errStopped
			}
		default:
			return
		}
	}
}

var errStopped = errors.New("redisengine: stopped")

// session runs one connection: it returns nil when the engine stops, else
// why the connection ended.
func (p *partition) session() error {
	c := p.e.clients.Load()
	if c == nil {
		return errors.New("redisengine: not connected")
	}
	dc, release := c.sub.Dedicate()
	defer release()
	defer dc.Close()
	failed := make(chan error, 1)
	wait := dc.SetPubSubHooks(rueidis.PubSubHooks{
		OnMessage: p.onMessage,
		OnSubscription: func(s rueidis.PubSubSubscription) {
			if p.lostSubscription(s) {
				select {
				case failed <- errors.New("redisengine: subscription dropped by the server: " + s.Channel):
				default:
				}
			}
		},
	})
	if err := p.resubscribe(dc); err != nil {
		return err
	}
	p.up.Store(true)
	p.forEachMirror(func(m *mirror) {
		p.e.syncq.push(m.repair) // it may have missed events
		p.e.dirty.mark(m.name)   // and Redis its subscriber count (a restart)
	})
	return p.serve(dc, wait, failed)
}

// resubscribe subscribes a fresh connection to the probe channel and to
// every channel this node mirrors in the partition.
func (p *partition) resubscribe(dc rueidis.DedicatedClient) error {
	chans := []string{p.probe}
	if p.idx == 0 {
		chans = append(chans, p.e.ctlChannel())
	}
	p.forEachMirror(func(m *mirror) { chans = append(chans, m.k.pubsub) })
	for len(chans) > 0 {
		n := min(len(chans), 256)
		ctx, cancel := p.e.timeout()
		err := dc.Do(ctx, p.subCmd(dc, false, chans[:n]...)).Error()
		cancel()
		if err != nil {
			return err
		}
		chans = chans[n:]
	}
	p.mu.Lock()
	clear(p.unsubs)
	p.mu.Unlock()
	return nil
}

// serve answers subscribe requests and probes the connection until it
// fails or the engine stops.
func (p *partition) serve(dc rueidis.DedicatedClient, wait <-chan error, failed <-chan error) error {
	tk := time.NewTicker(probeInterval)
	defer tk.Stop()
	seen, probing := p.received.Load(), false
	for {
		select {
		case <-p.e.stop:
			return nil
		case err := <-wait:
			if err == nil {
				err = errors.New("redisengine: pub/sub connection closed")
			}
			return err
		case err := <-failed:
			return err
		case r := <-p.reqs:
			if err := p.do(dc, r); err != nil {
				return err
			}
		case <-tk.C:
			if n := p.received.Load(); n != seen || !probing {
				seen, probing = n, n == seen
				if probing {
					p.sendProbe()
				}
				continue
			}
			p.e.stats.deaf.Add(1)
			return errDeaf
		}
	}
}

// do runs one request on the connection.
func (p *partition) do(dc rueidis.DedicatedClient, r subReq) error {
	if r.unsub {
		p.mu.Lock()
		p.unsubs[r.channel]++
		p.mu.Unlock()
	}
	ctx, cancel := p.e.timeout()
	err := dc.Do(ctx, p.subCmd(dc, r.unsub, r.channel)).Error()
	cancel()
	if r.done != nil {
		r.done <- err
	}
	return err
}

// subCmd builds (S)SUBSCRIBE or (S)UNSUBSCRIBE: sharded pub/sub on a
// Cluster (a channel's messages stay on the node of its slot), classic
// pub/sub on one Redis.
func (p *partition) subCmd(dc rueidis.DedicatedClient, unsub bool, chans ...string) rueidis.Completed {
	switch {
	case p.e.cluster && unsub:
		return dc.B().Sunsubscribe().Channel(chans...).Build()
	case p.e.cluster:
		return dc.B().Ssubscribe().Channel(chans...).Build()
	case unsub:
		return dc.B().Unsubscribe().Channel(chans...).Build()
	}
	return dc.B().Subscribe().Channel(chans...).Build()
}

// sendProbe publishes a probe that this connection must receive, without
// blocking the connection's goroutine.
func (p *partition) sendProbe() {
	c := p.e.cmd()
	if c == nil {
		return
	}
	go func() {
		ctx, cancel := p.e.timeout()
		defer cancel()
		cmd := c.B().Publish().Channel(p.probe).Message("probe").Build()
		if p.e.cluster {
			cmd = c.B().Spublish().Channel(p.probe).Message("probe").Build()
		}
		_ = c.Do(ctx, cmd).Error()
	}()
}

// lostSubscription reports an unsubscribe we did not ask for (the server
// drops sharded subscriptions when a slot moves): the connection must be
// replaced. It runs on the connection's reader goroutine.
func (p *partition) lostSubscription(s rueidis.PubSubSubscription) bool {
	if s.Kind != "unsubscribe" && s.Kind != "sunsubscribe" {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := p.unsubs[s.Channel]; n > 0 {
		if n == 1 {
			delete(p.unsubs, s.Channel)
		} else {
			p.unsubs[s.Channel] = n - 1
		}
		return false
	}
	return true
}

// onMessage hands an event to its mirror. It runs on the connection's
// reader goroutine and never blocks.
func (p *partition) onMessage(pm rueidis.PubSubMessage) {
	p.received.Add(1)
	name, ok := strings.CutPrefix(pm.Channel, p.pp+"p:")
	if !ok {
		if p.idx == 0 && pm.Channel == p.e.ctlChannel() {
			p.e.onControl(pm.Message)
		}
		return // else the probe
	}
	msg, err := parseMessage(pm.Message)
	if err != nil {
		p.e.stats.badMessages.Add(1)
		return
	}
	p.e.raiseHW(msg.id)
	if m, ok := p.e.mirrors.Load(name); ok {
		m.receive(msg)
	}
}

// forEachMirror calls fn for every mirror of the partition.
func (p *partition) forEachMirror(fn func(*mirror)) {
	p.e.mirrors.Range(func(_ string, m *mirror) bool {
		if m.part == p {
			fn(m)
		}
		return true
	})
}
