package redisengine

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/workkit/realtime/channel"
)

// The control plane: presence, disconnects and deletes (SPEC 3.9) reach
// every node. A node's streams live in its own memory, so the node that
// serves such a request asks them all: it publishes the request on the
// control pub/sub channel (carried by partition 0's connection of every
// node, itself included), each node answers from its own registry on the
// same channel, and the asker sums the answers of every node holding a
// live lease, or of those that answered within ctlTimeout.
//
//	asker                         every node (the asker too)
//	  leases (HGETALL nodes)
//	  PUBLISH ctl {op,id,...}  -->  onControl: apply locally (a syncer)
//	  collect until all leased  <--  PUBLISH ctl {op:"reply",id,closed|presence}
//	  nodes answered or timeout

// ctlTimeout bounds how long an asker waits for the nodes' answers.
const ctlTimeout = time.Second

// ctlMsg is a control request or its answer, as JSON on the control
// channel.
type ctlMsg struct {
	Op           string         `json:"op"` // presence, disconnect, delete, or reply
	ID           string         `json:"id"` // the asker's node id and a sequence number
	From         string         `json:"from"`
	Channel      *string        `json:"channel,omitempty"`
	Principal    string         `json:"principal,omitempty"`
	HasPrincipal bool           `json:"hasPrincipal,omitempty"`
	Closed       int            `json:"closed,omitempty"`      // reply: streams ended
	Subscribers  int            `json:"subscribers,omitempty"` // reply: presence
	Principals   map[string]int `json:"principals,omitempty"`  // reply: presence
}

// ctlCall is one request waiting for the nodes' answers.
type ctlCall struct {
	timer  *time.Timer                 // set before the request is published
	finish func(c *ctlCall, err error) // immutable; run once, by complete

	mu     sync.Mutex
	expect map[string]bool // guarded by mu: leased nodes not heard from yet
	closed int             // guarded by mu: the answers, summed
	subs   int             // guarded by mu
	who    map[string]int  // guarded by mu
}

// control is the engine's table of requests in flight.
type control struct {
	mu    sync.Mutex
	seq   uint64              // guarded by mu
	calls map[string]*ctlCall // guarded by mu
}

// ctlChannel is the control pub/sub channel: in partition 0, so that on a
// Cluster its (sharded) messages reach the connection partition 0 has to
// the node owning its slot.
func (e *Engine) ctlChannel() string { return e.parts[0].pp + "ctl" }

// Presence implements channel.Engine: every node's streams on the channel.
func (e *Engine) Presence(name []byte, done func(channel.Presence, error)) (channel.Presence, error) {
	ch := string(name)
	return channel.Presence{}, e.ask(ctlMsg{Op: "presence", Channel: &ch}, func(c *ctlCall, err error) {
		if err != nil {
			done(channel.Presence{}, err)
			return
		}
		p := channel.Presence{Subscribers: c.subs}
		for who, n := range c.who {
			p.Principals = append(p.Principals, channel.PrincipalCount{Principal: who, Streams: n})
		}
		done(channel.SortPresence(p), nil)
	})
}

// Disconnect implements channel.Engine: every node ends its matching
// streams.
func (e *Engine) Disconnect(v channel.Revocation, done func(int, error)) (int, error) {
	m := ctlMsg{Op: "disconnect", Principal: v.Principal, HasPrincipal: v.HasPrincipal}
	if v.Channel != nil {
		ch := string(v.Channel)
		m.Channel = &ch
	}
	return 0, e.ask(m, closedAnswer(done))
}

// Delete implements channel.Engine: the channel's buffer is dropped and
// its incarnation ended in Redis, then every node ends its streams and
// drops its mirror.
func (e *Engine) Delete(name []byte, done func(int, error)) (int, error) {
	if !e.Ready() {
		return 0, channel.ErrUnavailable
	}
	ch := string(name)
	e.syncq.push(func(ctx context.Context) {
		c := e.cmd()
		if c == nil {
			done(0, channel.ErrUnavailable)
			return
		}
		k, _ := e.keysOf(ch)
		if err := deleteScript.exec(ctx, c, []string{k.meta, k.stream, k.rv}, nil).Error(); err != nil {
			done(0, engineError(err))
			return
		}
		e.askNow(ctx, ctlMsg{Op: "delete", Channel: &ch}, closedAnswer(done))
	})
	return 0, channel.ErrPending
}

func closedAnswer(done func(int, error)) func(*ctlCall, error) {
	return func(c *ctlCall, err error) {
		if err != nil {
			done(0, err)
			return
		}
		done(c.closed, nil)
	}
}

// ask sends m to every node from a syncer; finish gets the summed answers.
func (e *Engine) ask(m ctlMsg, finish func(*ctlCall, error)) error {
	if !e.Ready() {
		return channel.ErrUnavailable
	}
	e.syncq.push(func(ctx context.Context) { e.askNow(ctx, m, finish) })
	return channel.ErrPending
}

// askNow reads the live leases, registers the call and publishes m.
func (e *Engine) askNow(ctx context.Context, m ctlMsg, finish func(*ctlCall, error)) {
	c := e.cmd()
	if c == nil {
		finish(nil, channel.ErrUnavailable)
		return
	}
	leases, err := c.Do(ctx, c.B().Hgetall().Key(e.parts[0].pp+"nodes").Build()).AsStrMap()
	if err != nil {
		finish(nil, engineError(err))
		return
	}
	call := &ctlCall{expect: map[string]bool{e.node: true}, who: map[string]int{}, finish: finish}
	now := time.Now().UnixMilli()
	for node, until := range leases {
		if ms, err := strconv.ParseInt(until, 10, 64); err == nil && ms > now {
			call.expect[node] = true
		}
	}
	e.ctl.mu.Lock()
	e.ctl.seq++
	m.ID, m.From = e.node+"-"+strconv.FormatUint(e.ctl.seq, 10), e.node
	if e.ctl.calls == nil {
		e.ctl.calls = map[string]*ctlCall{}
	}
	e.ctl.calls[m.ID] = call
	e.ctl.mu.Unlock()
	call.timer = time.AfterFunc(ctlTimeout, func() { e.complete(m.ID, true) })
	if err := e.publishCtl(ctx, m); err != nil {
		call.timer.Stop()
		e.ctl.mu.Lock()
		delete(e.ctl.calls, m.ID)
		e.ctl.mu.Unlock()
		finish(nil, engineError(err))
	}
}

// publishCtl publishes m on the control channel.
func (e *Engine) publishCtl(ctx context.Context, m ctlMsg) error {
	c := e.cmd()
	if c == nil {
		return channel.ErrUnavailable
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	cmd := c.B().Publish().Channel(e.ctlChannel()).Message(string(b)).Build()
	if e.cluster {
		cmd = c.B().Spublish().Channel(e.ctlChannel()).Message(string(b)).Build()
	}
	return c.Do(ctx, cmd).Error()
}

// onControl handles a message of the control channel. It runs on
// partition 0's reader goroutine and never blocks: requests are applied
// on a syncer.
func (e *Engine) onControl(payload string) {
	var m ctlMsg
	if err := json.Unmarshal([]byte(payload), &m); err != nil || m.ID == "" {
		e.stats.badMessages.Add(1)
		return
	}
	if m.Op == "reply" {
		e.answered(m)
		return
	}
	e.syncq.push(func(ctx context.Context) {
		r := e.applyLocally(m)
		r.Op, r.ID, r.From = "reply", m.ID, e.node
		if err := e.publishCtl(ctx, r); err != nil {
			e.stats.upkeepErrors.Add(1)
		}
	})
}

// applyLocally carries out request m on this node's streams.
func (e *Engine) applyLocally(m ctlMsg) ctlMsg {
	var r ctlMsg
	var name []byte
	if m.Channel != nil {
		name = []byte(*m.Channel)
	}
	switch m.Op {
	case "presence":
		if name == nil {
			break
		}
		if c := e.reg.Lookup(name); c != nil {
			p := c.Principals()
			r.Subscribers, r.Principals = p.Subscribers, make(map[string]int, len(p.Principals))
			for _, pc := range p.Principals {
				r.Principals[pc.Principal] = pc.Streams
			}
		}
	case "disconnect":
		r.Closed, _ = e.reg.Disconnect(channel.Revocation{Principal: m.Principal, HasPrincipal: m.HasPrincipal, Channel: name}, nil)
	case "delete":
		if name != nil {
			r.Closed, _ = e.reg.Delete(name, nil)
		}
	}
	return r
}

// answered adds a node's reply to its call.
func (e *Engine) answered(m ctlMsg) {
	e.ctl.mu.Lock()
	call := e.ctl.calls[m.ID]
	e.ctl.mu.Unlock()
	if call == nil {
		return // not ours, or too late
	}
	call.mu.Lock()
	call.closed += m.Closed
	call.subs += m.Subscribers
	for who, n := range m.Principals {
		call.who[who] += n
	}
	delete(call.expect, m.From)
	all := len(call.expect) == 0
	call.mu.Unlock()
	if all {
		e.complete(m.ID, false)
	}
}

// complete finishes call id once: every leased node answered, or the time
// is up (then with the answers that came; a node that did not answer in
// time is counted in the timeouts metric).
func (e *Engine) complete(id string, timedOut bool) {
	e.ctl.mu.Lock()
	call := e.ctl.calls[id]
	delete(e.ctl.calls, id)
	e.ctl.mu.Unlock()
	if call == nil {
		return
	}
	call.timer.Stop()
	if timedOut {
		e.stats.ctlTimeouts.Add(1)
	}
	call.mu.Lock() // a reply that raced the timer has been summed
	call.mu.Unlock()
	call.finish(call, nil)
}
