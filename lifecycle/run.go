package lifecycle

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"
)

// SignatureHeader is the header carrying "sha256=<lowercase hex
// HMAC-SHA256(secret, body)>".
const SignatureHeader = "X-Realtime-Signature"

// Retry backoff: the first retry after firstBackoff, doubling up to
// maxBackoff, each delay scaled by a random factor in [1-jitter, 1+jitter).
const (
	firstBackoff = time.Second
	maxBackoff   = 60 * time.Second
	jitter       = 0.2
)

// maxDrain is how much of a response body is read so the connection can be
// reused.
const maxDrain = 64 << 10

// batch is a run of events taken off the queue and encoded once: every
// retry sends the same body.
type batch struct {
	n    int    // events in the batch
	body []byte // the JSON array
	sig  string // SignatureHeader value; "" when there is no secret
}

// Run is the one goroutine that batches, POSTs and retries. Call it once. It
// returns when stop is closed, after at most one final attempt, bounded by
// Timeout in all, to send what is held; events still held then are counted
// as dropped, and so are events notified afterwards. Closing stop also
// cancels a POST in flight (it is part of the final attempt).
func (s *Sender) Run(stop <-chan struct{}) {
	if !s.running.CompareAndSwap(false, true) {
		s.cfg.Log.Error("lifecycle: Run called more than once")
		return
	}
	ctx, cancel := stopContext(stop)
	defer cancel()
	pending := s.loop(ctx, stop)
	s.finish(pending)
}

// stopContext returns a context cancelled when stop is closed or cancel is
// called. Its watcher goroutine exits on either.
func stopContext(stop <-chan struct{}) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// loop sends batches, retrying a failed one until it succeeds, until stop is
// closed. It returns the batch taken but not delivered then, or nil.
func (s *Sender) loop(ctx context.Context, stop <-chan struct{}) *batch {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var pending *batch
	failures := 0
	for {
		if pending == nil {
			if !s.waitForBatch(stop, timer) {
				return nil
			}
			if pending = s.nextBatch(); pending == nil {
				continue
			}
		}
		if err := s.post(ctx, pending); err != nil {
			failures++
			s.failure(err)
			if !sleep(stop, timer, backoff(failures)) {
				return pending
			}
			continue
		}
		s.delivered(pending)
		pending, failures = nil, 0
	}
}

// waitForBatch waits until MaxBatch events are queued or the oldest queued
// one has waited MaxWait. It returns false when stop is closed first.
func (s *Sender) waitForBatch(stop <-chan struct{}, timer *time.Timer) bool {
	for {
		select {
		case <-stop:
			return false
		default:
		}
		n, oldest := s.peek()
		if n >= s.cfg.MaxBatch {
			return true
		}
		var due <-chan time.Time
		if n > 0 {
			d := s.cfg.MaxWait - time.Since(oldest)
			if d <= 0 {
				return true
			}
			timer.Reset(d)
			due = timer.C
		}
		select {
		case <-stop:
			timer.Stop()
			return false
		case <-s.wake:
		case <-due:
		}
		timer.Stop()
	}
}

// peek returns the number of queued events and when the oldest was queued.
func (s *Sender) peek() (int, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return 0, time.Time{}
	}
	return len(s.queue), s.queue[0].queued
}

// sleep waits d and reports true, or false when stop is closed first.
func sleep(stop <-chan struct{}, timer *time.Timer, d time.Duration) bool {
	timer.Reset(d)
	defer timer.Stop()
	select {
	case <-stop:
		return false
	case <-timer.C:
		return true
	}
}

// backoff returns the delay before the retry following the given number of
// consecutive failures (1 for the first retry): 1 s, 2 s, 4 s … capped at
// 60 s, with ±20% jitter.
func backoff(failures int) time.Duration {
	d := min(firstBackoff<<min(failures-1, 6), maxBackoff)
	f := 1 - jitter + 2*jitter*rand.Float64()
	return time.Duration(float64(d) * f)
}

// nextBatch takes up to MaxBatch events off the front of the queue, counts
// them in flight and encodes them. It returns nil when the queue is empty
// or encoding failed (the events are then dropped).
func (s *Sender) nextBatch() *batch {
	events := s.take()
	if len(events) == 0 {
		return nil
	}
	b, err := encode(events, s.cfg.Secret)
	if err != nil {
		s.cfg.Log.Error("lifecycle: dropping batch", "events", len(events), "err", err)
		s.release(len(events))
		s.dropped.Add(uint64(len(events)))
		return nil
	}
	return b
}

// take moves up to MaxBatch events from the front of the queue into a new
// slice and counts them in flight. The rest are shifted down so the queue's
// array is reused and Notify does not allocate in steady state.
func (s *Sender) take() []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(len(s.queue), s.cfg.MaxBatch)
	events := slices.Clone(s.queue[:n])
	old := len(s.queue)
	rest := copy(s.queue, s.queue[n:])
	clear(s.queue[rest:old]) // drop stale copies so their strings can be freed
	s.queue = s.queue[:rest]
	s.inflight += n
	return events
}

// release stops counting n events as in flight.
func (s *Sender) release(n int) {
	s.mu.Lock()
	s.inflight -= n
	s.mu.Unlock()
}

// encode returns the batch of events: its JSON body and signature.
func encode(events []event, secret []byte) (*batch, error) {
	body, err := json.Marshal(events)
	if err != nil {
		return nil, fmt.Errorf("encode %d events: %w", len(events), err)
	}
	return &batch{n: len(events), body: body, sig: Sign(secret, body)}, nil
}

// Sign returns the SignatureHeader value for body: "sha256=" and the
// lowercase hex HMAC-SHA256 of body keyed with secret, or "" when secret is
// empty.
func Sign(secret, body []byte) string {
	if len(secret) == 0 {
		return ""
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// post sends b once, bounded by Timeout. Any answer but 2xx is an error.
func (s *Sender) post(ctx context.Context, b *batch) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(b.body))
	if err != nil {
		return fmt.Errorf("lifecycle: new request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if b.sig != "" {
		req.Header.Set(SignatureHeader, b.sig)
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("lifecycle: POST batch of %d events: %w", b.n, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("lifecycle: POST batch of %d events: status %s", b.n, resp.Status)
	}
	return nil
}

// failure counts and logs a failed POST attempt.
func (s *Sender) failure(err error) {
	s.failed.Add(1)
	st := s.Stats()
	s.cfg.Log.Warn("lifecycle: webhook failed", "err", err, "queued", st.Queued, "dropped", st.Dropped)
}

// delivered counts b as sent.
func (s *Sender) delivered(b *batch) {
	s.release(b.n)
	s.sent.Add(uint64(b.n))
	s.batches.Add(1)
}

// finish closes the queue to Notify, makes the final attempt to send the
// pending batch and the queue, and counts what is left as dropped.
func (s *Sender) finish(pending *batch) {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	s.flush(ctx, pending)
	s.dropHeld()
	if s.ownClient {
		s.cfg.Client.CloseIdleConnections()
	}
}

// flush sends b, if not nil, then the queue in batches, stopping at the
// first failure.
func (s *Sender) flush(ctx context.Context, b *batch) {
	for {
		if b == nil {
			if b = s.nextBatch(); b == nil {
				return
			}
		}
		if err := s.post(ctx, b); err != nil {
			s.failure(err)
			return
		}
		s.delivered(b)
		b = nil
	}
}

// dropHeld empties the queue and counts every held event as dropped.
func (s *Sender) dropHeld() {
	s.mu.Lock()
	n := len(s.queue) + s.inflight
	s.queue, s.inflight = nil, 0
	s.mu.Unlock()
	if n > 0 {
		s.dropped.Add(uint64(n))
		s.cfg.Log.Warn("lifecycle: stopped with events unsent", "dropped", n)
	}
}
