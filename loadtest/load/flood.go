package load

import (
	"bytes"
	"fmt"
	"sync"
	"time"
)

// FloodParams shapes a publish flood: Conns keep-alive connections, each
// pipelining Window publishes at a time, for Duration. With Batch > 0 each
// request is a batch publish (POST /publish, SPEC 3.4) of Batch events.
// With Rate > 0 the connections together send Rate requests per second,
// evenly paced, still with at most Window in flight each (see floodPaced).
type FloodParams struct {
	Conns    int
	Window   int
	Duration time.Duration
	Batch    int
	Pad      int
	Rate     float64
	Profile  time.Duration // realtime: a CPU profile this long from the start of the flood; 0: none
}

// floodTally is what one flood connection did.
type floodTally struct {
	requests, ok, events int
	statuses             map[int]int
	unsupported          bool
	err                  error
	lat                  Hist // write to answer of each request
}

// Flood publishes as fast as the server answers and reports publishes per
// second and server CPU per publish. Channels have no subscribers.
func Flood(env *Env, t *Target, p FloodParams) (*Result, error) {
	res, _, err := FloodProfiled(env, t, p)
	return res, err
}

// FloodProfiled is Flood that also returns the CPU profile p.Profile asked
// for (nil without one).
func FloodProfiled(env *Env, t *Target, p FloodParams) (*Result, []byte, error) {
	env.logf("%s: flood %d connections x window %d for %v (batch %d, rate %v/s)", t.Name, p.Conns, p.Window, p.Duration, p.Batch, p.Rate)
	res := &Result{Scenario: "flood", Target: t.Name}
	if p.Batch > 0 && t.Dialect == Nchan {
		res.Notef("batch publish: unsupported by nchan")
		res.Add("publishes/s", nan(), "")
		return res, nil, nil
	}
	u0, err := SampleUsage(t.PIDs)
	if err != nil {
		return nil, nil, err
	}
	prof := startProfile(t, p.Profile)
	r0, _ := SampleUsage(t.Redis)
	tallies := make([]floodTally, p.Conns)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range p.Conns {
		name := fmt.Sprintf("flood-%d", i)
		if p.Rate > 0 {
			wg.Go(func() { tallies[i] = floodPaced(t, p, name, start) })
		} else {
			wg.Go(func() { tallies[i] = floodConn(t, p, name, start.Add(p.Duration)) })
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	u1, err := SampleUsage(t.PIDs)
	if err != nil {
		return nil, nil, err
	}
	r1, _ := SampleUsage(t.Redis)
	sum := sumTallies(tallies)
	floodMetrics(res, &sum, elapsed, u1.CPU-u0.CPU)
	if len(t.Redis) > 0 {
		redisFloodMetrics(res, &sum, r1.CPU-r0.CPU)
	}
	return res, prof.wait(env), nil
}

// sumTallies adds up the connections' tallies.
func sumTallies(tallies []floodTally) floodTally {
	var sum floodTally
	sum.statuses = map[int]int{}
	for _, tl := range tallies {
		sum.requests += tl.requests
		sum.ok += tl.ok
		sum.events += tl.events
		sum.unsupported = sum.unsupported || tl.unsupported
		for k, v := range tl.statuses {
			sum.statuses[k] += v
		}
		if tl.err != nil && sum.err == nil {
			sum.err = tl.err
		}
		sum.lat.Merge(&tl.lat)
	}
	return sum
}

func floodMetrics(res *Result, s *floodTally, elapsed, cpu time.Duration) {
	if s.unsupported {
		res.Notef("batch publish (POST /publish): unsupported (404)")
		res.Add("publishes/s", nan(), "")
		return
	}
	res.Add("requests", float64(s.requests), "")
	res.Add("publishes", float64(s.events), "")
	res.Add("publishes/s", float64(s.events)/elapsed.Seconds(), "")
	res.Add("server CPU", cpu.Seconds(), "s")
	if s.events > 0 {
		res.Add("server CPU per publish", float64(cpu.Microseconds())/float64(s.events), "µs")
	}
	l := s.lat.Summarize()
	res.Add("publish latency p50", l.P50, "ms")
	res.Add("publish latency p99", l.P99, "ms")
	res.Add("publish latency max", l.Max, "ms")
	if s.ok != s.requests {
		res.Notef("answers: %v", s.statuses)
	}
	if s.err != nil {
		res.Notef("connection error: %v", s.err)
	}
}

// floodConn publishes on one connection until the deadline, Window
// requests per round trip.
func floodConn(t *Target, p FloodParams, channel string, deadline time.Time) floodTally {
	tl := floodTally{statuses: map[int]int{}}
	pub, err := DialPublisher(t)
	if err != nil {
		tl.err = err
		return tl
	}
	defer pub.Close()
	var data, req []byte
	seq := 0
	for time.Now().Before(deadline) {
		sent := Mono()
		for range max(p.Window, 1) {
			seq++
			data = AppendEventData(data[:0], seq, Mono(), p.Pad)
			if p.Batch > 0 {
				req = t.BatchRequest(req[:0], batchOf(channel, data, p.Batch))
				tl.err = pub.SendRaw(req)
			} else {
				tl.err = pub.Send(channel, "flood", data)
			}
		}
		if tl.err == nil {
			tl.err = pub.Flush()
		}
		for range max(p.Window, 1) {
			if tl.err != nil {
				return tl
			}
			var status int
			var body []byte
			status, _, body, tl.err = pub.ReadReply()
			if tl.err == nil {
				tl.lat.Record(Mono() - sent)
			}
			tl.count(status, body, p.Batch)
		}
		if tl.unsupported {
			return tl
		}
	}
	return tl
}

// count tallies one answer; a batch answer counts its successful items.
func (tl *floodTally) count(status int, body []byte, batch int) {
	tl.requests++
	tl.statuses[status]++
	switch {
	case status == 404 && batch > 0:
		tl.unsupported = true
	case status/100 != 2:
	case batch > 0:
		tl.ok++
		tl.events += bytes.Count(body, []byte(`"delivered"`))
	default:
		tl.ok++
		tl.events++
	}
}

func batchOf(channel string, data []byte, n int) []BatchItem {
	items := make([]BatchItem, n)
	for i := range items {
		items[i] = BatchItem{Channel: channel, Event: "flood", Data: data}
	}
	return items
}
