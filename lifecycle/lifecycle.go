// Package lifecycle sends channel lifecycle webhooks: "channel.occupied" when
// a channel gets its first subscriber and "channel.vacated" when its last one
// leaves.
//
// Events are POSTed in batches, as a JSON array
//
//	[{"type":"channel.occupied","channel":"a","at":1764590000000},...]
//
// with at most MaxBatch events per batch and at most MaxWait between an
// event's Notify and the POST of its batch. Each body is signed with
// HMAC-SHA256 in the X-Realtime-Signature header ("sha256=<hex>"). A batch
// answered non-2xx, a transport error, a timeout or a redirect is kept and
// retried with exponential backoff (1 s, 2 s, 4 s … capped at 60 s, each
// ±20%) while new events queue behind it, in order, up to MaxQueue events in
// all. Events that do not fit are dropped and counted.
//
// Notify never blocks and is safe for concurrent use. One goroutine, Run,
// does all network I/O.
package lifecycle

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Event types.
const (
	// Occupied is sent when a channel gets its first subscriber.
	Occupied = "channel.occupied"
	// Vacated is sent when a channel's last subscriber leaves.
	Vacated = "channel.vacated"
)

// Defaults for the zero fields of a Config.
const (
	DefaultMaxQueue = 10000
	DefaultMaxBatch = 100
	DefaultMaxWait  = time.Second
	DefaultTimeout  = 5 * time.Second
)

// userAgent is the User-Agent header of every POST.
const userAgent = "realtime-lifecycle/1"

// Config configures a Sender. Zero fields take the defaults noted.
type Config struct {
	// URL is where batches are POSTed: an absolute http or https URL.
	URL string
	// Secret is the HMAC-SHA256 key of the X-Realtime-Signature header.
	// When empty the header is omitted.
	Secret []byte
	// MaxQueue is the most events held at once, counting the queued ones
	// and those of the batch being sent or retried. Default 10000.
	MaxQueue int
	// MaxBatch is the most events in one POST. Default 100.
	MaxBatch int
	// MaxWait is how long an event waits at most before its batch is sent
	// (unless an earlier batch is being retried). Default 1 s.
	MaxWait time.Duration
	// Timeout bounds each POST. Default 5 s.
	Timeout time.Duration
	// Client sends the POSTs. Default: a client of its own that never
	// follows redirects, so a 3xx answer is a failure.
	Client *http.Client
	// Log receives failures and drops. Default: discarded.
	Log *slog.Logger
}

// Stats is a snapshot of a Sender's counters.
type Stats struct {
	// Sent is the number of events in batches answered 2xx.
	Sent uint64
	// Dropped is the number of events dropped: the queue was full, the
	// Sender had stopped, or the final attempt of Run failed.
	Dropped uint64
	// Failed is the number of POST attempts that failed (non-2xx,
	// transport error, timeout or redirect).
	Failed uint64
	// Batches is the number of batches answered 2xx.
	Batches uint64
	// Queued is the number of events held now: queued plus those of the
	// batch being sent or retried.
	Queued int
}

// event is one lifecycle event. The exported fields are its JSON form.
type event struct {
	Type    string `json:"type"`
	Channel string `json:"channel"`
	At      int64  `json:"at"` // unix milliseconds
	queued  time.Time
}

// Sender batches lifecycle events and POSTs them. Create it with New, start
// Run in one goroutine, and call Notify from anywhere.
type Sender struct {
	// Set by New, read-only after.
	cfg       Config
	ownClient bool          // cfg.Client was made by New
	wake      chan struct{} // buffered(1): Notify tells Run the queue grew

	running atomic.Bool // atomic: Run has been called

	mu       sync.Mutex
	queue    []event // guarded by mu: events not yet taken into a batch, oldest first
	inflight int     // guarded by mu: events of the batch Run is sending or retrying
	closed   bool    // guarded by mu: Run is finishing or has returned; Notify drops

	sent    atomic.Uint64 // atomic: events delivered (2xx)
	dropped atomic.Uint64 // atomic: events dropped
	failed  atomic.Uint64 // atomic: failed POST attempts
	batches atomic.Uint64 // atomic: batches delivered (2xx)
}

// New validates cfg, fills in its defaults and returns a Sender. Run must be
// started for anything to be sent.
func New(cfg Config) (*Sender, error) {
	if err := checkURL(cfg.URL); err != nil {
		return nil, fmt.Errorf("lifecycle: events URL: %w", err)
	}
	if err := checkLimits(cfg); err != nil {
		return nil, fmt.Errorf("lifecycle: %w", err)
	}
	s := &Sender{wake: make(chan struct{}, 1)}
	s.cfg = withDefaults(cfg)
	if cfg.Client == nil {
		s.cfg.Client = newClient()
		s.ownClient = true
	}
	s.queue = make([]event, 0, min(s.cfg.MaxQueue, s.cfg.MaxBatch))
	return s, nil
}

// checkURL accepts an absolute http or https URL with a host.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parse %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("%q: no host", raw)
	}
	return nil
}

// checkLimits rejects negative sizes and durations.
func checkLimits(cfg Config) error {
	switch {
	case cfg.MaxQueue < 0:
		return errors.New("MaxQueue is negative")
	case cfg.MaxBatch < 0:
		return errors.New("MaxBatch is negative")
	case cfg.MaxWait < 0:
		return errors.New("MaxWait is negative")
	case cfg.Timeout < 0:
		return errors.New("Timeout is negative")
	}
	return nil
}

// withDefaults returns cfg with its zero fields (except Client) set to the
// defaults.
func withDefaults(cfg Config) Config {
	if cfg.MaxQueue == 0 {
		cfg.MaxQueue = DefaultMaxQueue
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// newClient returns a client with a transport of its own that never follows
// redirects: the 3xx response is returned as is, and counts as a failure.
func newClient() *http.Client {
	return &http.Client{
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Notify queues an event of type typ (Occupied or Vacated) for channel at
// time at. It never blocks on I/O and, once the queue has grown to its
// working size, allocates nothing. When MaxQueue events are already held, or
// Run has finished, the event is dropped and counted in Stats.Dropped.
func (s *Sender) Notify(typ, channel string, at time.Time) {
	e := event{Type: typ, Channel: channel, At: at.UnixMilli(), queued: time.Now()}
	if !s.enqueue(e) {
		s.dropped.Add(1)
		return
	}
	select {
	case s.wake <- struct{}{}:
	default: // Run has a wake-up pending already
	}
}

// enqueue appends e to the queue unless it is full or closed.
func (s *Sender) enqueue(e event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.queue)+s.inflight >= s.cfg.MaxQueue {
		return false
	}
	s.queue = append(s.queue, e)
	return true
}

// Stats returns a snapshot of the counters. It is safe for concurrent use.
func (s *Sender) Stats() Stats {
	s.mu.Lock()
	queued := len(s.queue) + s.inflight
	s.mu.Unlock()
	return Stats{
		Sent:    s.sent.Load(),
		Dropped: s.dropped.Load(),
		Failed:  s.failed.Load(),
		Batches: s.batches.Load(),
		Queued:  queued,
	}
}
