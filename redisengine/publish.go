package redisengine

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
	"github.com/workkit/realtime/channel"
)

// pubJob is a publish waiting for a publisher: one event, or a batch.
type pubJob struct {
	calls  []pubEvent // one per event
	names  []string   // the channel of each event
	single func(channel.Published, error)
	batch  []channel.BatchItem // for a batch: the items, whose unrefused ones the calls are, in order
	done   func()              // for a batch
}

// fail answers the job with err.
func (j *pubJob) fail(err error) {
	if j.single != nil {
		j.single(channel.Published{}, err)
		return
	}
	for i := range j.batch {
		if j.batch[i].Err == nil {
			j.batch[i].Err = err
		}
	}
	j.done()
}

// Publish implements channel.Engine: the event is queued for a publisher
// and answered when Redis has assigned its id (ErrPending).
func (e *Engine) Publish(name, event, data []byte, done func(channel.Published, error)) (channel.Published, error) {
	if !e.up.Load() {
		return channel.Published{}, channel.ErrUnavailable
	}
	n := string(name)
	e.pubq.push(&pubJob{calls: []pubEvent{e.publishCall(n, event, data)}, names: []string{n}, single: done})
	return channel.Published{}, channel.ErrPending
}

// PublishBatch implements channel.Engine: the items are published in one
// pipelined round.
func (e *Engine) PublishBatch(items []channel.BatchItem, done func()) error {
	j := &pubJob{batch: items, done: done}
	for i := range items {
		if items[i].Err == nil {
			n := string(items[i].Channel)
			j.calls = append(j.calls, e.publishCall(n, items[i].Event, items[i].Data))
			j.names = append(j.names, n)
		}
	}
	if len(j.calls) == 0 {
		return nil
	}
	if !e.up.Load() {
		for i := range items {
			if items[i].Err == nil {
				items[i].Err = channel.ErrUnavailable
			}
		}
		return nil
	}
	e.pubq.push(j)
	return channel.ErrPending
}

// pubEvent is one event for the publish script, with what it needs of
// its channel's keys.
type pubEvent struct {
	part                     *partition
	meta, stream, counts, ps string    // the channel's keys
	args                     [4]string // seen base, seen last, event, data
}

// publishCall prepares one event for the publish script; it copies
// everything it keeps.
func (e *Engine) publishCall(name string, event, data []byte) pubEvent {
	k, p := e.keysOf(name)
	var seenBase, seenLast uint64
	if m, ok := e.mirrors.Load(name); ok {
		m.mu.Lock()
		if m.ch != nil {
			seenBase, seenLast = m.ch.Position()
		}
		m.mu.Unlock()
	}
	return pubEvent{part: p, meta: k.meta, stream: k.stream, counts: k.counts, ps: k.pubsub,
		args: [4]string{u64(seenBase), u64(seenLast), string(event), string(data)}}
}

// publisher sends queued publishes, as many as are waiting (up to maxBatch
// events) in one pipelined round — one script run per partition — until
// the engine stops.
func (e *Engine) publisher() {
	var jobs []*pubJob
	var evs []pubEvent
	for {
		jobs = e.pubq.pop(jobs, maxBatch)
		if len(jobs) == 0 {
			return
		}
		evs = evs[:0]
		for _, j := range jobs {
			evs = append(evs, j.calls...)
		}
		c := e.cmd()
		if c == nil {
			for _, j := range jobs {
				j.fail(channel.ErrUnavailable)
			}
			continue
		}
		ctx, cancel := e.timeout()
		res := e.runPublish(ctx, c, evs)
		cancel()
		for i, j := range jobs {
			res = e.answer(j, res)
			jobs[i] = nil
		}
		clear(evs)
	}
}

// pubResult is the publish script's answer for one event.
type pubResult struct {
	v   []rueidis.RedisMessage // {id, base, subscribers of the other live nodes}
	err error
}

// runPublish runs the publish script once per partition that evs touch,
// all in one pipelined round, and returns each event's result, in order.
func (e *Engine) runPublish(ctx context.Context, c rueidis.Client, evs []pubEvent) []pubResult {
	mode := "P"
	if e.cluster {
		mode = "S"
	}
	global := []string{u64(e.hw.Load()), e.maxlen, e.ttl, mode, e.node, strconv.FormatInt(time.Now().UnixMilli(), 10)}
	var calls []call
	var members [][]int // event indexes of each call
	callOf := map[*partition]int{}
	for i := range evs {
		ev := &evs[i]
		k, ok := callOf[ev.part]
		if !ok {
			k = len(calls)
			callOf[ev.part] = k
			calls = append(calls, call{keys: []string{ev.part.pp + "nodes", ev.part.pp + "rv"}, args: append([]string(nil), global...)})
			members = append(members, nil)
		}
		calls[k].keys = append(calls[k].keys, ev.meta, ev.stream, ev.counts, ev.ps)
		calls[k].args = append(calls[k].args, ev.args[:]...)
		members[k] = append(members[k], i)
	}
	out := make([]pubResult, len(evs))
	for k, r := range publishScript.execMulti(ctx, c, calls) {
		v, err := r.ToArray()
		if err == nil && len(v) != len(members[k]) {
			err = errors.New("redisengine: publish script answered the wrong number of events")
		}
		for j, i := range members[k] {
			if err != nil {
				out[i].err = err
				continue
			}
			if msg, serr := v[j].ToString(); serr == nil {
				out[i].err = errors.New(msg) // the event's own failure
				continue
			}
			out[i].v, out[i].err = v[j].ToArray()
		}
	}
	return out
}

// answer gives job j its results, the first len(j.calls) of res, and
// returns the rest.
func (e *Engine) answer(j *pubJob, res []pubResult) []pubResult {
	mine, rest := res[:len(j.calls)], res[len(j.calls):]
	if j.single != nil {
		p, err := e.published(j.names[0], mine[0])
		j.single(p, err)
		return rest
	}
	k := 0
	for i := range j.batch {
		if j.batch[i].Err == nil {
			j.batch[i].Result, j.batch[i].Err = e.published(j.names[k], mine[k])
			k++
		}
	}
	j.done()
	return rest
}

// published reads the publish script's answer for one event. delivered
// adds this node's own subscribers.
func (e *Engine) published(name string, r pubResult) (channel.Published, error) {
	if r.err != nil {
		e.stats.publishErrors.Add(1)
		return channel.Published{}, engineError(r.err)
	}
	v := r.v
	if len(v) != 3 {
		return channel.Published{}, channel.ErrUnavailable
	}
	id, err1 := parseU64(v[0])
	others, err2 := v[2].AsInt64()
	if err := errors.Join(err1, err2); err != nil {
		return channel.Published{}, channel.ErrUnavailable
	}
	e.raiseHW(id)
	p := channel.Published{ID: id, Delivered: int(others)}
	if m, ok := e.mirrors.Load(name); ok {
		m.mu.Lock()
		if m.ch != nil {
			p.Delivered += m.ch.Subscribers()
		}
		m.mu.Unlock()
	}
	e.stats.publishes.Add(1)
	return p, nil
}

// Subscribe implements channel.Engine: served from this node's mirror of
// the channel, once it holds one (ErrPending until then).
func (e *Engine) Subscribe(name []byte, sink channel.Sink, o channel.Open, done func(*channel.Subscription, error)) (*channel.Subscription, error) {
	for {
		ch, err := e.serveOrPark(name, waiter{sink: sink, open: o, subscribed: done}, true)
		if err != nil {
			return nil, err
		}
		sub, err := ch.Subscribe(sink, o)
		if err != channel.ErrEvicted {
			return sub, err
		}
	}
}

// Poll implements channel.Engine: served from this node's mirror of the
// channel, once it holds one (ErrPending until then).
func (e *Engine) Poll(name []byte, q channel.PollQuery, wait channel.Sink, done func(channel.Missed, *channel.Subscription, error)) (channel.Missed, *channel.Subscription, error) {
	for {
		ch, err := e.serveOrPark(name, waiter{sink: wait, poll: &q, polled: done}, false)
		if err != nil {
			return channel.Missed{}, nil, err
		}
		m, sub, err := ch.Poll(q, wait)
		if err != channel.ErrEvicted {
			return m, sub, err
		}
	}
}

// Info implements channel.Engine: the channel as Redis holds it, with
// every live node's subscribers (ErrPending: a syncer asks Redis).
func (e *Engine) Info(name []byte, done func(channel.Info, error)) (channel.Info, error) {
	if !e.up.Load() {
		return channel.Info{}, channel.ErrUnavailable
	}
	k, _ := e.keysOf(string(name))
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	e.syncq.push(func(ctx context.Context) {
		c := e.cmd()
		if c == nil {
			done(channel.Info{}, channel.ErrUnavailable)
			return
		}
		r := infoScript.exec(ctx, c, []string{k.meta, k.stream, k.counts, k.nodes, k.rv}, []string{now, e.maxlen})
		done(parseInfo(r))
	})
	return channel.Info{}, channel.ErrPending
}

func parseInfo(r rueidis.RedisResult) (channel.Info, error) {
	v, err := r.ToArray()
	if rueidis.IsRedisNil(err) {
		return channel.Info{}, channel.ErrNoChannel
	}
	if err != nil || len(v) != 4 {
		return channel.Info{}, engineError(err)
	}
	last, err1 := parseU64(v[0])
	oldest, err2 := parseU64(v[1])
	buffered, err3 := v[2].AsInt64()
	subs, err4 := v[3].AsInt64()
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return channel.Info{}, channel.ErrUnavailable
	}
	return channel.Info{Subscribers: int(subs), LastID: last, OldestID: oldest, Buffered: int(buffered)}, nil
}

// engineError maps a failure to what the broker answers: the channel
// package's own errors pass, anything from Redis (an error reply, a
// timeout, no connection) is ErrUnavailable.
func engineError(err error) error {
	switch err {
	case nil, channel.ErrFull, channel.ErrTooManyChannels, channel.ErrNoChannel, channel.ErrUnavailable:
		return err
	}
	return channel.ErrUnavailable
}

func u64(n uint64) string { return strconv.FormatUint(n, 10) }

// parseU64 reads a decimal id from a string or integer reply.
func parseU64(m rueidis.RedisMessage) (uint64, error) {
	if s, err := m.ToString(); err == nil {
		return strconv.ParseUint(s, 10, 64)
	}
	n, err := m.AsInt64()
	return uint64(n), err
}

// parseStreamID reads the id of a stream entry "<id>-0".
func parseStreamID(s string) (uint64, error) {
	ms, _, ok := strings.Cut(s, "-")
	if !ok {
		return 0, errHistory
	}
	return strconv.ParseUint(ms, 10, 64)
}
