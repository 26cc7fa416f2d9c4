package load

import (
	"fmt"
	"time"
)

// FanoutParams shapes a fan-out run: Subscribers streams on one channel,
// Events published at Rate per second (0: as fast as Window in-flight
// publishes allow), each Pad filler bytes long.
type FanoutParams struct {
	Subscribers int
	Events      int
	Rate        float64
	Window      int
	Pad         int
	Profile     time.Duration // realtime: collect a CPU profile this long while publishing; 0: none
}

// FanoutOutcome holds the raw figures of a fan-out run.
type FanoutOutcome struct {
	Opened         int           `json:"opened"`
	Publish        PublishStats  `json:"publish"`
	Report         *WorkerReport `json:"report"`
	Latency        Summary       `json:"latency"`
	ServerCPU      time.Duration `json:"server_cpu_ns"`
	CPUWindow      time.Duration `json:"cpu_window_ns"` // wall time over which ServerCPU was taken
	CPUPerDelivery float64       `json:"cpu_per_delivery_us"`
	DeliveriesPerS float64       `json:"deliveries_per_s"`
	Profile        []byte        `json:"-"` // gzipped pprof CPU profile, when asked for
}

// Fanout runs the fan-out scenario against t.
func Fanout(env *Env, t *Target, p FanoutParams) (*Result, *FanoutOutcome, error) {
	channel := "fanout-" + randomHex(4)
	env.logf("%s: fanout %d subscribers x %d events (rate %v/s)", t.Name, p.Subscribers, p.Events, p.Rate)
	g, err := OpenGroup(env, OpenSpec{Target: *t, Channels: []string{channel}, N: p.Subscribers,
		Mode: ModeRead, Events: p.Events})
	if err != nil {
		return nil, nil, err
	}
	defer g.Close()
	res := &Result{Scenario: "fanout", Target: t.Name}
	if g.Failed > 0 {
		res.Notef("%d of %d subscriptions failed: %v", g.Failed, p.Subscribers, g.Errors)
	}
	time.Sleep(300 * time.Millisecond)
	out, err := runFanout(env, t, g, channel, p)
	if err != nil {
		return nil, nil, err
	}
	out.Opened = g.Opened
	res.Details = out
	fanoutMetrics(res, out, p)
	return res, out, nil
}

// runFanout publishes to channel, waits for g's subscribers and measures
// the server's CPU time over the whole delivery.
func runFanout(env *Env, t *Target, g *Group, channel string, p FanoutParams) (*FanoutOutcome, error) {
	out := &FanoutOutcome{}
	prof := startProfile(t, p.Profile)
	u0, err := SampleUsage(t.PIDs)
	if err != nil {
		return nil, err
	}
	m0, w0 := Mono(), time.Now()
	out.Publish, err = PublishSeq(t, PublishPlan{Channel: channel, Events: p.Events, Rate: p.Rate,
		Window: p.Window, Pad: p.Pad})
	if err != nil {
		return nil, fmt.Errorf("load: publish: %w", err)
	}
	out.Report, err = g.Collect(CollectSpec{Events: p.Events, QuietMs: 5000, TimeoutMs: 300_000})
	if err != nil {
		return nil, err
	}
	u1, err := SampleUsage(t.PIDs)
	if err != nil {
		return nil, err
	}
	out.CPUWindow = time.Since(w0)
	out.Profile = prof.wait(env)
	out.ServerCPU = u1.CPU - u0.CPU
	n := out.Report.Checks.Received
	out.Latency = out.Report.Lat.Summarize()
	if n > 0 {
		out.CPUPerDelivery = float64(out.ServerCPU.Microseconds()) / float64(n)
		if d := out.Report.LastFrame - m0; d > 0 {
			out.DeliveriesPerS = float64(n) / (float64(d) / 1e9)
		}
	}
	return out, nil
}

func fanoutMetrics(res *Result, o *FanoutOutcome, p FanoutParams) {
	c := o.Report.Checks
	res.Add("subscribers", float64(o.Opened), "")
	res.Add("events published", float64(o.Publish.OK), "")
	res.Add("deliveries", float64(c.Received), "")
	res.Add("deliveries/s", o.DeliveriesPerS, "")
	res.Add("publish rate", float64(o.Publish.OK)/o.Publish.Elapsed.Seconds(), "/s")
	res.Add("server CPU", o.ServerCPU.Seconds(), "s")
	res.Add("server CPU per delivery", o.CPUPerDelivery, "µs")
	res.Add("latency p50", o.Latency.P50, "ms")
	res.Add("latency p99", o.Latency.P99, "ms")
	res.Add("latency max", o.Latency.Max, "ms")
	res.Add("missing", float64(c.Missing), "")
	res.Add("duplicated", float64(c.Duplicated), "")
	res.Add("out of order", float64(c.OutOfOrder), "")
	res.Add("subscribers incomplete", float64(c.Incomplete), "")
	res.Add("streams ended by server", float64(o.Report.Disconnects), "")
	if want := int64(o.Opened) * int64(p.Events); int64(c.Received) != want {
		res.Notef("received %d event frames, expected %d", c.Received, want)
	}
	if o.Publish.OK != p.Events {
		res.Notef("publish answers: %v", o.Publish.Statuses)
	}
}

// profiler collects a CPU profile in the background.
type profiler struct {
	done chan struct{}
	data []byte
	err  error
}

func startProfile(t *Target, d time.Duration) *profiler {
	if d <= 0 || t.Admin == "" {
		return nil
	}
	p := &profiler{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.data, p.err = CPUProfile(t.Admin, d)
	}()
	return p
}

// wait returns the profile (nil without one or on error, which is logged).
func (p *profiler) wait(env *Env) []byte {
	if p == nil {
		return nil
	}
	<-p.done
	if p.err != nil {
		env.logf("cpu profile: %v", p.err)
	}
	return p.data
}
