package load

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ChanFloodParams shapes a channel flood: Conns keep-alive connections,
// each pipelining Window `GET /poll/<Prefix><i>` with a distinct i (every
// poll names a new channel) for Duration; the server is sampled every
// Sample during the flood and for Settle after it.
type ChanFloodParams struct {
	Conns    int
	Window   int
	Duration time.Duration
	Settle   time.Duration
	Sample   time.Duration
	Prefix   string // channel name prefix; empty: "flood:"
}

// ChanFloodSample is one reading of the server during a channel flood; -1
// marks a figure the target could not give.
type ChanFloodSample struct {
	Elapsed   time.Duration `json:"elapsed_ns"` // since the flood began
	RSS       int64         `json:"rss"`
	Channels  int           `json:"channels"`   // realtime_channels
	HeapInuse int64         `json:"heap_inuse"` // go_memstats_heap_inuse_bytes: whether the Go heap gave the memory back
	OK        int64         `json:"ok"`         // 200 answers so far
}

// ChanFloodOutcome holds the raw figures of a channel flood.
type ChanFloodOutcome struct {
	Tally    PollTally         `json:"tally"`
	Flood    time.Duration     `json:"flood_ns"`    // how long the connections ran
	Creating time.Duration     `json:"creating_ns"` // from the start to the last 200 (the cap, if one stopped it)
	Before   ChanFloodSample   `json:"before"`
	Peak     ChanFloodSample   `json:"peak"` // RSS and channels are each their maximum
	End      ChanFloodSample   `json:"end"`  // right after the flood
	Settled  ChanFloodSample   `json:"settled"`
	Samples  []ChanFloodSample `json:"samples"`
	// The live heap right after the flood and after Settle (LiveHeap: a GC
	// forced in the server); -1 when unknown.
	LiveEnd     int64 `json:"live_end"`
	LiveSettled int64 `json:"live_settled"`
}

// ChanFlood runs the channel flood against t: how fast can one token make
// channels, what does each cost, and is any of it freed afterwards.
func ChanFlood(env *Env, t *Target, p ChanFloodParams) (*Result, *ChanFloodOutcome, error) {
	if p.Prefix == "" {
		p.Prefix = "flood:"
	}
	p.Sample = max(p.Sample, 10*time.Millisecond)
	env.logf("%s: chanflood %d connections x window %d of GET /poll/%s<i> for %v, then %v settling",
		t.Name, p.Conns, p.Window, p.Prefix, p.Duration, p.Settle)
	tally := newPollTally()
	o := &ChanFloodOutcome{Before: readChanFloodSample(t, 0, tally)}
	if o.Before.RSS == 0 && len(t.PIDs) > 0 {
		return nil, nil, fmt.Errorf("load: chanflood: cannot read the server's RSS (pid %v)", t.PIDs)
	}
	start, startMono := time.Now(), Mono()
	stop := make(chan struct{})
	samples := make(chan []ChanFloodSample, 1)
	go func() { samples <- sampleChanFlood(t, start, p.Sample, tally, stop) }()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(p.Conns, 1) {
		wg.Go(func() { floodPolls(t, p, &next, start.Add(p.Duration), tally) })
	}
	wg.Wait()
	o.Flood = time.Since(start)
	o.End = readChanFloodSample(t, o.Flood, tally)
	o.LiveEnd = liveHeapOf(t)
	time.Sleep(p.Settle)
	o.Settled = readChanFloodSample(t, time.Since(start), tally)
	o.LiveSettled = liveHeapOf(t)
	close(stop)
	o.Samples = <-samples
	o.Tally = tally.snapshot()
	if o.Tally.LastOK > startMono {
		o.Creating = time.Duration(o.Tally.LastOK - startMono)
	}
	o.Peak = chanFloodPeak(append([]ChanFloodSample{o.Before, o.End, o.Settled}, o.Samples...))
	return chanFloodResult(t, o, p), o, nil
}

// sampleChanFlood reads the server every interval until stop closes.
func sampleChanFlood(t *Target, start time.Time, interval time.Duration, tally *pollTally, stop <-chan struct{}) []ChanFloodSample {
	var out []ChanFloodSample
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return out
		case <-tick.C:
			out = append(out, readChanFloodSample(t, time.Since(start), tally))
		}
	}
}

// readChanFloodSample takes one reading of the server.
func readChanFloodSample(t *Target, elapsed time.Duration, tally *pollTally) ChanFloodSample {
	s := ChanFloodSample{Elapsed: elapsed, Channels: -1, HeapInuse: -1, OK: tally.ok.Load()}
	if u, err := SampleUsage(t.PIDs); err == nil {
		s.RSS = u.RSS
	}
	if t.Admin != "" {
		if m, err := Metrics(t.Admin); err == nil {
			s.Channels = metricInt(m, "realtime_channels")
			s.HeapInuse = int64(metricInt(m, "go_memstats_heap_inuse_bytes"))
		}
	}
	return s
}

// liveHeapOf returns the target's live heap, or -1 when it cannot tell.
func liveHeapOf(t *Target) int64 {
	if t.Admin == "" {
		return -1
	}
	n, err := LiveHeap(t.Admin)
	if err != nil {
		return -1
	}
	return n
}

// chanFloodPeak is the largest RSS and the largest channel count sampled (each
// with its own time; Elapsed is that of the RSS peak).
func chanFloodPeak(samples []ChanFloodSample) ChanFloodSample {
	var pk ChanFloodSample
	pk.Channels = -1
	for _, s := range samples {
		if s.RSS > pk.RSS {
			pk.RSS, pk.Elapsed, pk.OK = s.RSS, s.Elapsed, s.OK
		}
		pk.Channels = max(pk.Channels, s.Channels)
	}
	return pk
}

// chanFloodResult turns the outcome into the table.
func chanFloodResult(t *Target, o *ChanFloodOutcome, p ChanFloodParams) *Result {
	tl := o.Tally
	res := &Result{Scenario: "chanflood", Target: t.Name, Details: o}
	res.Add("requests answered", float64(tl.Answered), "")
	res.Add("200 (channel made)", float64(tl.OK), "")
	res.Add("503", float64(tl.Refused), "")
	res.Add("503 with Retry-After", float64(tl.RetryAfter), "")
	res.Add("other answers", float64(tl.Other), "")
	res.Add("unanswered (connection closed)", float64(tl.Unanswered), "")
	res.Add("reconnects", float64(tl.Reconnects), "")
	res.Add("channels created/s", float64(tl.OK)/o.Flood.Seconds(), "")
	if o.Creating > 0 {
		res.Add("channels created/s until the last 200", float64(tl.OK)/o.Creating.Seconds(), "")
	}
	res.Add("realtime_channels before", nanIfNeg(o.Before.Channels), "")
	res.Add("realtime_channels peak", nanIfNeg(o.Peak.Channels), "")
	res.Add("realtime_channels at end", nanIfNeg(o.End.Channels), "")
	res.Add(fmt.Sprintf("realtime_channels after %v", p.Settle), nanIfNeg(o.Settled.Channels), "")
	res.Add("RSS before", mib(o.Before.RSS), "MiB")
	res.Add("RSS peak", mib(o.Peak.RSS), "MiB")
	res.Add("RSS at end", mib(o.End.RSS), "MiB")
	res.Add(fmt.Sprintf("RSS after %v", p.Settle), mib(o.Settled.RSS), "MiB")
	if o.LiveEnd >= 0 && o.LiveSettled >= 0 {
		res.Add("live heap at end (forced GC)", mib(o.LiveEnd), "MiB")
		res.Add(fmt.Sprintf("live heap after %v (forced GC)", p.Settle), mib(o.LiveSettled), "MiB")
	}
	if made := o.End.Channels - o.Before.Channels; o.End.Channels >= 0 && made > 0 {
		res.Add("RSS per channel made", float64(o.End.RSS-o.Before.RSS)/float64(made), "B")
	}
	if len(tl.Statuses) > 0 && tl.Other > 0 {
		res.Notef("answers by status: %v", tl.Statuses)
	}
	for _, e := range tl.Errors {
		res.Notef("connection error: %s", e)
	}
	return res
}

// ChanFloodRows is the timeline of a channel flood, one row per every-th
// sample (header first).
func ChanFloodRows(o *ChanFloodOutcome, every int) [][]string {
	rows := [][]string{{"elapsed (s)", "RSS (MiB)", "heap in use (MiB)", "realtime_channels", "200s so far"}}
	add := func(label string, s ChanFloodSample) {
		rows = append(rows, []string{label, fmt.Sprintf("%.1f", mib(s.RSS)), mibOrDash(s.HeapInuse), dash(s.Channels), fmt.Sprint(s.OK)})
	}
	add("before", o.Before)
	ended := false
	for i, s := range o.Samples {
		if !ended && s.Elapsed > o.End.Elapsed {
			add(fmt.Sprintf("flood end %.2f", o.End.Elapsed.Seconds()), o.End)
			ended = true
		}
		if (i+1)%max(every, 1) == 0 {
			add(fmt.Sprintf("%.2f", s.Elapsed.Seconds()), s)
		}
	}
	if !ended {
		add(fmt.Sprintf("flood end %.2f", o.End.Elapsed.Seconds()), o.End)
	}
	add(fmt.Sprintf("settled %.2f", o.Settled.Elapsed.Seconds()), o.Settled)
	return rows
}
