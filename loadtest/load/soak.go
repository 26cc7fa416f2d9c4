package load

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// SoakParams shapes a soak: Streams streams spread round-robin over
// Channels channels (soak:0, soak:1, ...) held for Duration while Rate
// events per second, over all channels, flow. A Churn share of the streams
// drop each stream after a random HoldMin..HoldMax and resume with
// Last-Event-ID after up to MaxDown; the rest hold one stream throughout.
// The server is sampled every Sample.
type SoakParams struct {
	Streams        int
	Channels       int
	Duration       time.Duration
	Churn          float64
	HoldMin        time.Duration
	HoldMax        time.Duration
	MaxDown        time.Duration
	Rate           float64
	Sample         time.Duration
	Heartbeat      time.Duration // the server's --heartbeat, for the report (the caller starts the server)
	Drain          time.Duration // bound of the wait for the last events once publishing stopped
	GoroutineSlack int           // goroutines are flat when max − min of the samples is within it
	ForceGC        bool          // force a GC in the server before each sample and record its live heap
	Seed           uint64
}

// SoakSample is one reading of the server during a soak; -1 marks a figure
// the target could not give (no admin listener).
type SoakSample struct {
	Elapsed    time.Duration `json:"elapsed_ns"` // since publishing began
	RSS        int64         `json:"rss"`
	Goroutines int           `json:"goroutines"`
	Streams    int           `json:"streams"`          // realtime_subscribers
	Heartbeats int           `json:"heartbeats_total"` // realtime_heartbeats_total
	HeapInuse  int64         `json:"heap_inuse"`       // go_memstats_heap_inuse_bytes: tells heap growth from other RSS
	GCs        int           `json:"gcs"`              // go_gc_duration_seconds_count: GC cycles so far
	LiveHeap   int64         `json:"live_heap"`        // with ForceGC: the heap right after it (LiveHeap); else -1
}

// SoakOutcome holds the raw figures of a soak.
type SoakOutcome struct {
	Params     SoakParams    `json:"params"`
	Opened     int           `json:"opened"`
	Churners   int           `json:"churners"`
	PerChannel int           `json:"per_channel"` // events checked per channel: 1..PerChannel
	Publish    SoakPublish   `json:"publish"`
	Samples    []SoakSample  `json:"samples"`
	Report     *WorkerReport `json:"report"`
	Verdict    SoakVerdict   `json:"verdict"`
}

// Soak runs the soak scenario against t: open every stream, publish and
// sample for p.Duration, let the last events drain, then check every
// subscriber and judge flatness (see JudgeSoak).
func Soak(env *Env, t *Target, p SoakParams) (*Result, *SoakOutcome, error) {
	per := int(p.Rate * p.Duration.Seconds() / float64(max(p.Channels, 1)))
	if per < 1 || p.Streams < 1 || p.Channels < 1 {
		return nil, nil, fmt.Errorf("load: soak: %d streams, %v/s over %d channels for %v: nothing to check",
			p.Streams, p.Rate, p.Channels, p.Duration)
	}
	p.Sample = max(p.Sample, 100*time.Millisecond)
	chans := make([]string, p.Channels)
	for i := range chans {
		chans[i] = fmt.Sprintf("soak:%d", i)
	}
	out := &SoakOutcome{Params: p, PerChannel: per}
	env.logf("%s: soak %d streams over %d channels for %v, %v events/s, %.0f%% churning", t.Name,
		p.Streams, p.Channels, p.Duration, p.Rate, p.Churn*100)
	groups, failed, err := openSoak(env, t, p, chans, per, out)
	defer closeGroups(groups)
	if err != nil {
		return nil, nil, err
	}
	time.Sleep(time.Second) // the last subscriptions register before the first event
	t0 := time.Now()
	pub := make(chan SoakPublish, 1)
	go func() { pub <- soakPublish(t, chans, per, p.Rate, t0, t0.Add(p.Duration+p.Drain)) }()
	out.Samples = sampleSoak(env, t, p, t0)
	out.Publish = <-pub
	checked := slices.Min(out.Publish.Published)
	env.logf("%s: soak: publishing done (%d events per channel), draining up to %v", t.Name, checked, p.Drain)
	out.Report, err = collectGroups(groups, CollectSpec{Events: checked, TimeoutMs: int(p.Drain / time.Millisecond)})
	if err != nil {
		return nil, nil, err
	}
	out.PerChannel = checked
	out.Verdict = JudgeSoak(out.Samples, p, out.Report.Checks, out.Opened)
	res := soakResult(t, out)
	if failed != "" {
		res.Notef("%s", failed)
	}
	return res, out, nil
}

// openSoak opens the steady and the churning streams; failed describes
// subscriptions that could not open.
func openSoak(env *Env, t *Target, p SoakParams, chans []string, per int, out *SoakOutcome) ([]*Group, string, error) {
	churners := int(float64(p.Streams)*p.Churn + 0.5)
	churners = min(max(churners, 0), p.Streams)
	specs := []OpenSpec{
		{Target: *t, Channels: chans, N: p.Streams - churners, Mode: ModeRead, Events: per},
		{Target: *t, Channels: chans, N: churners, Mode: ModeChurn, Events: per, Churn: ChurnSpec{
			MaxDownMs: int(p.MaxDown / time.Millisecond), HoldMinMs: int(p.HoldMin / time.Millisecond),
			HoldMaxMs: max(int(p.HoldMax/time.Millisecond), 1), Seed: p.Seed}},
	}
	var groups []*Group
	var errs []string
	failed := 0
	for _, spec := range specs {
		if spec.N == 0 {
			continue
		}
		g, err := OpenGroup(env, spec)
		if err != nil {
			return groups, "", err
		}
		groups = append(groups, g)
		out.Opened += g.Opened
		failed += g.Failed
		errs = append(errs, g.Errors...)
		if spec.Mode == ModeChurn {
			out.Churners = g.Opened
		}
	}
	if failed > 0 {
		return groups, fmt.Sprintf("%d of %d streams failed to open: %v", failed, p.Streams, errs[:min(len(errs), 5)]), nil
	}
	return groups, "", nil
}

// sampleSoak reads the server at 0, Sample, 2·Sample, ... and at Duration,
// logging each reading.
func sampleSoak(env *Env, t *Target, p SoakParams, t0 time.Time) []SoakSample {
	var out []SoakSample
	for k := 0; ; k++ {
		at := min(time.Duration(k)*p.Sample, p.Duration)
		time.Sleep(time.Until(t0.Add(at)))
		live := int64(-1)
		if p.ForceGC {
			live = liveHeapOf(t)
		}
		s := readSoakSample(t, time.Since(t0))
		s.LiveHeap = live
		out = append(out, s)
		env.logf("%s: soak %s: RSS %.1f MiB, goroutines %d, streams %d, heartbeats %d", t.Name,
			clock(s.Elapsed), float64(s.RSS)/(1<<20), s.Goroutines, s.Streams, s.Heartbeats)
		if at >= p.Duration {
			return out
		}
	}
}

// readSoakSample takes one reading of the server.
func readSoakSample(t *Target, elapsed time.Duration) SoakSample {
	s := SoakSample{Elapsed: elapsed, Goroutines: goroutinesOf(t), Streams: -1, Heartbeats: -1, HeapInuse: -1, GCs: -1}
	if u, err := SampleUsage(t.PIDs); err == nil {
		s.RSS = u.RSS
	}
	if t.Admin != "" {
		if m, err := Metrics(t.Admin); err == nil {
			s.Streams, s.Heartbeats = metricInt(m, "realtime_subscribers"), metricInt(m, "realtime_heartbeats_total")
			s.HeapInuse, s.GCs = int64(metricInt(m, "go_memstats_heap_inuse_bytes")), metricInt(m, "go_gc_duration_seconds_count")
		}
	}
	return s
}

// collectGroups collects every group at once and merges their reports.
func collectGroups(groups []*Group, c CollectSpec) (*WorkerReport, error) {
	reps := make([]*WorkerReport, len(groups))
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Go(func() { reps[i], errs[i] = g.Collect(c) })
	}
	wg.Wait()
	rep := &WorkerReport{}
	for _, r := range reps {
		if r != nil {
			rep.Merge(r)
		}
	}
	return rep, errors.Join(errs...)
}

func closeGroups(groups []*Group) {
	for _, g := range groups {
		g.Close()
	}
}

// clock formats an elapsed time as m:ss.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
