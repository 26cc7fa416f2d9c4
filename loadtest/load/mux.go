package load

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// MultiplexParams shapes a multiplex run: Streams multiplexed streams
// (GET /sse?channel=..., SPEC 3.8) of K channels each, drawn at random from
// a pool of Channels, and Events published one at a time on random
// channels of the pool (with Hot > 0: on pool channels 0..Hot-1 only, which
// every stream then holds), at Rate per second (0: as fast as Window
// in-flight publishes allow). With Single the same channels are held by
// plain GET /sse/{ch} streams instead, one per (stream, channel) pair (with
// SingleHot only the pairs whose channel gets events): the baseline, with
// the same deliveries.
type MultiplexParams struct {
	Streams   int
	K         int
	Channels  int
	Hot       int
	Events    int
	Rate      float64
	Window    int
	Pad       int
	Seed      uint64
	Settle    time.Duration // wait before each memory reading
	Single    bool
	SingleHot bool
	Profile   time.Duration // realtime: collect a CPU profile this long while publishing; 0: none
}

// Validate reports parameters the run cannot honour.
func (p MultiplexParams) Validate() error {
	switch {
	case p.Streams < 1 || p.K < 1:
		return errors.New("load: multiplex needs -n and -k of at least 1")
	case p.Channels < p.K:
		return fmt.Errorf("load: -channels %d: the pool must hold at least -k %d channels", p.Channels, p.K)
	case p.Hot < 0 || p.Hot > p.K:
		return fmt.Errorf("load: -hot %d: between 0 and -k %d (every stream holds the hot channels)", p.Hot, p.K)
	case p.Events < 0:
		return errors.New("load: -events must not be negative")
	}
	return nil
}

// Name labels the run's column.
func (p MultiplexParams) Name() string {
	switch {
	case p.Single && p.SingleHot:
		return "single-hot"
	case p.Single:
		return "single"
	}
	return "multiplex"
}

// MuxSets returns the channels of each multiplexed stream, as indices in
// the pool: the hot channels 0..Hot-1, then K-Hot distinct others drawn at
// random from the rest of the pool. Deterministic in Seed.
func (p MultiplexParams) MuxSets() [][]int {
	rng := rand.New(rand.NewPCG(p.Seed, 0x736574))
	rest := make([]int, 0, p.Channels-p.Hot)
	for c := p.Hot; c < p.Channels; c++ {
		rest = append(rest, c)
	}
	sets := make([][]int, p.Streams)
	flat := make([]int, p.Streams*p.K)
	for g := range sets {
		set := flat[g*p.K : (g+1)*p.K : (g+1)*p.K]
		for c := range p.Hot {
			set[c] = c
		}
		// A partial Fisher-Yates shuffle draws a uniform subset whatever
		// order rest is left in by the previous stream.
		for j := 0; j < p.K-p.Hot; j++ {
			r := j + rng.IntN(len(rest)-j)
			rest[j], rest[r] = rest[r], rest[j]
			set[p.Hot+j] = rest[j]
		}
		sets[g] = set
	}
	return sets
}

// EventOrder returns the pool channel of each event, drawn at random
// (among the hot channels with Hot > 0). Deterministic in Seed.
func (p MultiplexParams) EventOrder() []int {
	rng := rand.New(rand.NewPCG(p.Seed, 0x657674))
	span := p.Channels
	if p.Hot > 0 {
		span = p.Hot
	}
	order := make([]int, p.Events)
	for i := range order {
		order[i] = rng.IntN(span)
	}
	return order
}

// connSets returns the channel set of each connection: the streams' sets,
// or for the single baseline one set of one channel per pair (only those
// of channels with events, with SingleHot).
func (p MultiplexParams) connSets(sets [][]int, counts []int) [][]int {
	if !p.Single {
		return sets
	}
	var out [][]int
	flat := make([]int, 0, len(sets)*p.K)
	for _, set := range sets {
		for _, c := range set {
			if p.SingleHot && counts[c] == 0 {
				continue
			}
			flat = append(flat, c)
			out = append(out, flat[len(flat)-1:len(flat):len(flat)])
		}
	}
	return out
}

// MultiplexOutcome holds the raw figures of a multiplex run.
type MultiplexOutcome struct {
	Streams        int              `json:"streams"` // multiplexed streams modelled (the baseline holds their channels)
	Conns          int              `json:"conns"`   // connections asked for
	Opened         int              `json:"opened"`
	Expected       int64            `json:"expected"` // deliveries expected: the events of each held channel, per connection
	Publish        PublishStats     `json:"publish"`
	Refused        map[string][]int `json:"refused,omitempty"`
	Report         *WorkerReport    `json:"report"`
	Latency        Summary          `json:"latency"`
	ServerCPU      time.Duration    `json:"server_cpu_ns"`
	CPUWindow      time.Duration    `json:"cpu_window_ns"`
	CPUPerDelivery float64          `json:"cpu_per_delivery_us"`
	DeliveriesPerS float64          `json:"deliveries_per_s"`
	RSSBefore      int64            `json:"rss_before"`
	RSSAfter       int64            `json:"rss_after"`
	HeapBefore     int64            `json:"heap_before"` // live Go heap after a forced GC; -1: no admin listener
	HeapAfter      int64            `json:"heap_after"`
	Writes         float64          `json:"writes"` // Δ realtime_write_syscalls_total over the delivery; NaN without /metrics
	BytesWritten   float64          `json:"bytes_written"`
	Profile        []byte           `json:"-"`
}

// Multiplex runs the multiplex scenario (or its single baseline) against t.
func Multiplex(env *Env, t *Target, p MultiplexParams) (*Result, *MultiplexOutcome, error) {
	if err := p.Validate(); err != nil {
		return nil, nil, err
	}
	tag := randomHex(4)
	pool := make([]string, p.Channels)
	for i := range pool {
		pool[i] = fmt.Sprintf("mux-%s-%d", tag, i)
	}
	sets, order := p.MuxSets(), p.EventOrder()
	counts := make([]int, p.Channels)
	for _, c := range order {
		counts[c]++
	}
	expect := map[string]int{}
	for c, n := range counts {
		if n > 0 {
			expect[pool[c]] = n
		}
	}
	conns := p.connSets(sets, counts)
	out := &MultiplexOutcome{Streams: p.Streams, Conns: len(conns), HeapBefore: -1, HeapAfter: -1}
	for _, set := range conns {
		for _, c := range set {
			out.Expected += int64(counts[c])
		}
	}
	env.logf("%s: %s: %d streams x %d channels of %d (%d connections), %d events (rate %v/s)",
		t.Name, p.Name(), p.Streams, p.K, p.Channels, len(conns), p.Events, p.Rate)
	mspec := MuxSpec{Pool: pool, Expect: expect, Single: p.Single}
	spec := OpenSpec{Target: *t, N: len(conns), Mode: ModeMux, Mux: &mspec}
	each := func(s *OpenSpec) {
		m := mspec
		m.Sets = conns[s.First : s.First+s.N]
		s.Mux = &m
	}
	// Warm-up: the first streams pay for one-time allocations (and make
	// their channels) before the first memory reading.
	warm := spec
	warm.N = min(10, len(conns))
	if g, err := openGroup(env, warm, each); err == nil {
		g.Close()
	}
	time.Sleep(p.Settle)
	out.RSSBefore, out.HeapBefore = memoryOf(t)
	g, err := openGroup(env, spec, each)
	if err != nil {
		return nil, nil, err
	}
	defer g.Close()
	out.Opened = g.Opened
	res := &Result{Scenario: "multiplex", Target: p.Name(), Details: out}
	if g.Failed > 0 {
		res.Notef("%d of %d connections failed to open: %v", g.Failed, len(conns), g.Errors)
	}
	time.Sleep(p.Settle)
	out.RSSAfter, out.HeapAfter = memoryOf(t)
	time.Sleep(300 * time.Millisecond)
	if err := runMultiplex(env, t, g, pool, order, p, out); err != nil {
		return nil, nil, err
	}
	multiplexMetrics(res, out, p)
	return res, out, nil
}

// writeCounters returns realtime's write syscalls and bytes written so
// far (NaN without an admin listener).
func writeCounters(t *Target) [2]float64 {
	out := [2]float64{nan(), nan()}
	if t.Admin == "" {
		return out
	}
	m, err := Metrics(t.Admin)
	if err != nil {
		return out
	}
	if v, ok := m["realtime_write_syscalls_total"]; ok {
		out[0] = v
	}
	if v, ok := m["realtime_bytes_written_total"]; ok {
		out[1] = v
	}
	return out
}

// memoryOf reads the server's RSS, then its live heap (which forces a
// GC, so it comes second; -1 without an admin listener).
func memoryOf(t *Target) (rss, heap int64) {
	if u, err := SampleUsage(t.PIDs); err == nil {
		rss = u.RSS
	}
	heap = -1
	if t.Admin != "" {
		if h, err := LiveHeap(t.Admin); err == nil {
			heap = h
		}
	}
	return rss, heap
}

// runMultiplex publishes the events, waits for the streams and measures
// the server's CPU over the whole delivery.
func runMultiplex(env *Env, t *Target, g *Group, pool []string, order []int, p MultiplexParams, out *MultiplexOutcome) error {
	prof := startProfile(t, p.Profile)
	w0m := writeCounters(t)
	u0, err := SampleUsage(t.PIDs)
	if err != nil {
		return err
	}
	m0, w0 := Mono(), time.Now()
	out.Publish, out.Refused, err = PublishOrder(t, OrderPlan{Pool: pool, Order: order, Rate: p.Rate, Window: p.Window, Pad: p.Pad})
	if err != nil {
		return fmt.Errorf("load: publish: %w", err)
	}
	out.Report, err = g.Collect(CollectSpec{QuietMs: 5000, TimeoutMs: 300_000, Unpublished: out.Refused})
	if err != nil {
		return err
	}
	u1, err := SampleUsage(t.PIDs)
	if err != nil {
		return err
	}
	out.CPUWindow = time.Since(w0)
	w1m := writeCounters(t)
	out.Writes, out.BytesWritten = w1m[0]-w0m[0], w1m[1]-w0m[1]
	out.Profile = prof.wait(env)
	out.ServerCPU = u1.CPU - u0.CPU
	out.Latency = out.Report.Lat.Summarize()
	if n := out.Report.Checks.Received; n > 0 {
		out.CPUPerDelivery = float64(out.ServerCPU.Microseconds()) / float64(n)
		if d := out.Report.LastFrame - m0; d > 0 {
			out.DeliveriesPerS = float64(n) / (float64(d) / 1e9)
		}
	}
	return nil
}

func multiplexMetrics(res *Result, o *MultiplexOutcome, p MultiplexParams) {
	c := o.Report.Checks
	ms := MuxStats{}
	if o.Report.Mux != nil {
		ms = o.Report.Mux.MuxStats
	}
	perConn := func(v int64) float64 { return float64(v) / float64(max(o.Opened, 1)) / 1024 }
	perStream := func(v int64) float64 {
		// the streams modelled: all of them when every connection opened
		return float64(v) / (float64(p.Streams) * float64(o.Opened) / float64(max(o.Conns, 1))) / 1024
	}
	res.Add("streams", float64(p.Streams), "")
	res.Add("channels per stream", float64(p.K), "")
	res.Add("connections", float64(o.Opened), "")
	res.Add("events published", float64(o.Publish.OK), "")
	res.Add("deliveries", float64(c.Received), "")
	res.Add("deliveries/s", o.DeliveriesPerS, "")
	res.Add("publish rate", float64(o.Publish.OK)/o.Publish.Elapsed.Seconds(), "/s")
	res.Add("server CPU", o.ServerCPU.Seconds(), "s")
	res.Add("server CPU per delivery", o.CPUPerDelivery, "µs")
	res.Add("write syscalls per delivery", o.Writes/float64(max(c.Received, 1)), "")
	res.Add("bytes written per delivery", o.BytesWritten/float64(max(c.Received, 1)), "B")
	res.Add("latency p50", o.Latency.P50, "ms")
	res.Add("latency p99", o.Latency.P99, "ms")
	res.Add("latency max", o.Latency.Max, "ms")
	res.Add("RSS before", float64(o.RSSBefore)/(1<<20), "MiB")
	res.Add("RSS after", float64(o.RSSAfter)/(1<<20), "MiB")
	res.Add("RSS per connection", perConn(o.RSSAfter-o.RSSBefore), "KiB")
	res.Add("RSS per stream of K channels", perStream(o.RSSAfter-o.RSSBefore), "KiB")
	heapConn, heapStream := nan(), nan()
	if o.HeapBefore >= 0 && o.HeapAfter >= 0 {
		heapConn, heapStream = perConn(o.HeapAfter-o.HeapBefore), perStream(o.HeapAfter-o.HeapBefore)
	}
	res.Add("live heap per connection", heapConn, "KiB")
	res.Add("live heap per stream of K channels", heapStream, "KiB")
	res.Add("missing", float64(c.Missing), "")
	res.Add("duplicated", float64(c.Duplicated), "")
	res.Add("out of order", float64(c.OutOfOrder), "")
	res.Add("id regressions", float64(ms.IDRegress), "")
	res.Add("id gaps", float64(ms.IDGaps), "")
	res.Add("cursor mismatches", float64(ms.CursorBad), "")
	res.Add("foreign or unparsed events", float64(ms.Foreign+ms.Unparsed), "")
	res.Add("channel pairs incomplete", float64(c.Incomplete), "")
	res.Add("streams ended by server", float64(o.Report.Disconnects), "")
	res.Add("id line bytes (max)", float64(ms.IDLineMax), "B")
	if p.Single {
		res.Notef("single: plain GET /sse/{ch} streams, one per (stream, channel) pair%s; the per-stream figures are per %d of them",
			map[bool]string{true: " whose channel gets events", false: ""}[p.SingleHot], o.Conns/max(p.Streams, 1))
	}
	if int64(c.Received) != o.Expected {
		res.Notef("received %d event frames, expected %d", c.Received, o.Expected)
	}
	if o.Publish.OK != p.Events {
		res.Notef("publish answers: %v", o.Publish.Statuses)
	}
	if ms.CursorOpaque > 0 {
		res.Notef("%d cursors not in the documented form were not checked", ms.CursorOpaque)
	}
	bugs := c.Duplicated + c.OutOfOrder + ms.IDRegress + ms.IDGaps + ms.CursorBad + ms.Foreign + ms.Unparsed
	if bugs > 0 || (c.Missing > 0 && o.Report.Disconnects == 0) {
		res.Failed = true
		res.Notef("CHECK FAILED: missing %d, duplicated %d, out of order %d, id regressions %d, id gaps %d, cursor mismatches %d, foreign %d, unparsed %d",
			c.Missing, c.Duplicated, c.OutOfOrder, ms.IDRegress, ms.IDGaps, ms.CursorBad, ms.Foreign, ms.Unparsed)
	}
}
