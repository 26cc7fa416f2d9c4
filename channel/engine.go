package channel

import "errors"

// ErrPending is returned by an Engine method whose answer needs a remote
// store: the method's callback then runs exactly once, later, on another
// goroutine, with the result. An engine never returns ErrPending and also
// calls the callback, nor calls it after returning anything else.
var ErrPending = errors.New("channel: answer pending")

// ErrNoChannel reports a channel that does not exist (SPEC 3.6: 404).
var ErrNoChannel = errors.New("channel: no such channel")

// ErrUnavailable reports an engine that cannot answer now (its store is
// unreachable): the request gets 503 with Retry-After.
var ErrUnavailable = errors.New("channel: engine unavailable")

// Engine stores and fans out the events of every channel; the broker talks
// to channels through it only. The memory engine (*Registry) serves one
// process and answers every call at once; the Redis engine (package
// redisengine) shares channels between nodes and may answer later
// (ErrPending). Callbacks may be nil when the engine is Local. Safe for
// concurrent use.
type Engine interface {
	// Local reports that every method answers at once and never uses its
	// callback: the caller may pass nil and need not prepare to wait.
	Local() bool

	// Publish publishes one event (data is compact JSON; neither slice is
	// retained). It fails with ErrTooManyChannels or ErrUnavailable.
	Publish(name, event, data []byte, done func(Published, error)) (Published, error)

	// PublishBatch publishes every item that has no Err yet, filling in
	// its Result or Err; a remote engine does it in one round trip.
	// done runs after the last item when it returns ErrPending.
	PublishBatch(items []BatchItem, done func()) error

	// Subscribe adds sink to channel name as a stream and sends the
	// opening, reset and replay of o before live events (SPEC 3.1, 3.2).
	// It fails with ErrFull, ErrTooManyChannels or ErrUnavailable, having
	// sent nothing.
	Subscribe(name []byte, sink Sink, o Open, done func(*Subscription, error)) (*Subscription, error)

	// Poll returns what a client with last id q.Last has missed (SPEC
	// 3.5); with wait not nil and nothing to return, wait is parked on the
	// channel for the next event and the returned subscription is not
	// nil. The caller releases the Missed and cancels the subscription.
	Poll(name []byte, q PollQuery, wait Sink, done func(Missed, *Subscription, error)) (Missed, *Subscription, error)

	// Info returns a snapshot of channel name, ErrNoChannel if there is
	// none.
	Info(name []byte, done func(Info, error)) (Info, error)

	// Presence returns who is subscribed to channel name, on every node
	// (SPEC 3.9); a channel nobody is subscribed to has an empty one.
	Presence(name []byte, done func(Presence, error)) (Presence, error)

	// Disconnect ends the streams v selects, on every node, each after a
	// realtime.closed frame, and returns how many it ended.
	Disconnect(v Revocation, done func(int, error)) (int, error)

	// Delete ends every stream of channel name, on every node, drops its
	// buffer and ends its incarnation (SPEC 3.9); it returns how many
	// streams it ended.
	Delete(name []byte, done func(int, error)) (int, error)

	// Watch makes fn be told when a channel gets its first stream and when
	// its last one leaves, counting every node (lifecycle webhooks, SPEC
	// 3.9); fn must not block. Call it before Run.
	Watch(fn func(name string, occupied bool))

	// Ready reports whether the engine can serve (its store is reachable).
	Ready() bool

	// Counters returns the engine's counters for /metrics.
	Counters() Counters

	// Run does the engine's background work until stop is closed.
	Run(stop <-chan struct{})
}

// PollQuery is what a poll asks for.
type PollQuery struct {
	Last    uint64 // the client's last event id, when HasLast
	HasLast bool
}

// BatchItem is one event of a batch publish.
type BatchItem struct {
	Channel, Event, Data []byte // data is compact JSON
	Result               Published
	Err                  error // set by the caller for an item it refused; by the engine for a failure
}

// Counters are an engine's figures, read at scrape time.
type Counters struct {
	Stats         *Stats // event and reset counters
	Channels      int    // channels held (mirrors, for a remote engine)
	Evictions     uint64 // channels evicted for idleness
	BufferedBytes int64  // memory held by replay rings
}

var _ Engine = (*Registry)(nil)

// Local implements Engine: the memory engine answers every call at once.
func (r *Registry) Local() bool { return true }

// Watch implements Engine.
func (r *Registry) Watch(fn func(name string, occupied bool)) { r.cfg.OnOccupancy = fn }

// Ready implements Engine: the memory engine is always ready.
func (r *Registry) Ready() bool { return true }

// Counters implements Engine.
func (r *Registry) Counters() Counters {
	return Counters{Stats: &r.stats, Channels: r.Len(), Evictions: r.Evictions(), BufferedBytes: r.BufferedBytes()}
}

// PublishBatch implements Engine: each item in order, at once.
func (r *Registry) PublishBatch(items []BatchItem, _ func()) error {
	for i := range items {
		it := &items[i]
		if it.Err == nil {
			it.Result, it.Err = r.Publish(it.Channel, it.Event, it.Data, nil)
		}
	}
	return nil
}

// Info implements Engine.
func (r *Registry) Info(name []byte, _ func(Info, error)) (Info, error) {
	c := r.Lookup(name)
	if c == nil {
		return Info{}, ErrNoChannel
	}
	return c.Info(), nil
}
