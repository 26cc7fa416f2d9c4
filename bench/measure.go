package main

import (
	"fmt"
	"time"

	"github.com/workkit/realtime/loadtest/load"
)

// measurer runs the planner's measurements, each on a fresh server when
// it starts them itself, else on the server named by --target.
type measurer struct {
	env      *load.Env
	bin      string       // realtime binary; empty with an external target
	external *load.Target // --target
	logDir   string
}

// withServer runs fn against a fresh realtime started with args, or
// against the external target.
func (m *measurer) withServer(args []string, fn func(t *load.Target) error) error {
	if m.external != nil {
		return fn(m.external)
	}
	srv, err := load.StartRealtime(load.RealtimeOptions{Bin: m.bin, Args: args, LogDir: m.logDir})
	if err != nil {
		return err
	}
	err = fn(&srv.Target)
	if serr := srv.Stop(); err == nil && serr != nil {
		err = serr
	}
	return err
}

// idle measures RSS per idle stream at each size.
func (m *measurer) idle(sizes []int) ([]IdlePoint, error) {
	var pts []IdlePoint
	for _, n := range sizes {
		err := m.withServer(nil, func(t *load.Target) error {
			_, o, err := load.Idle(m.env, t, load.IdleParams{Streams: n, Channels: 1, Settle: 2 * time.Second})
			if err != nil {
				return err
			}
			if o.Opened < n {
				return fmt.Errorf("idle: only %d of %d streams opened", o.Opened, n)
			}
			pts = append(pts, IdlePoint{Streams: n, RSSBefore: o.RSSBefore, RSSAfter: o.RSSAfter,
				BytesPerStream: o.BytesPerStream, Goroutines: o.GoroutinesAfter})
			return nil
		})
		if err != nil {
			return pts, err
		}
	}
	return pts, nil
}

// fanoutPlan says how one fan-out size is measured.
type fanoutPlan struct {
	fanouts    []int
	deliveries int           // deliveries per size: events = deliveries / fanout, in [50, 3000]
	rate       float64       // events per second; 0: as fast as the server answers
	maxTime    time.Duration // at a rate, fewer events so publishing ends within this
	profile    bool          // profile the largest size
}

// events returns how many events size f gets.
func (fp fanoutPlan) events(f int) int {
	n := min(max(fp.deliveries/f, 50), 3000)
	if fp.rate > 0 {
		n = min(n, max(int(fp.rate*fp.maxTime.Seconds()), 50))
	}
	return n
}

// fanout measures CPU per delivery and latency at each size; it returns
// the CPU profile of the largest size when asked. idleRate (µs of CPU per
// second of an idle server) is subtracted: timers tick whether or not
// anything is delivered.
func (m *measurer) fanout(fp fanoutPlan, idleRate float64) ([]FanoutPoint, []byte, error) {
	var pts []FanoutPoint
	var prof []byte
	for i, f := range fp.fanouts {
		p := load.FanoutParams{Subscribers: f, Events: fp.events(f), Rate: fp.rate}
		if fp.profile && i == len(fp.fanouts)-1 {
			p.Profile = profileLength(p)
		}
		err := m.withServer(nil, func(t *load.Target) error {
			_, o, err := load.Fanout(m.env, t, p)
			if err != nil {
				return err
			}
			prof = o.Profile
			net := float64(o.ServerCPU.Microseconds()) - idleRate*o.CPUWindow.Seconds()
			perDelivery := max(net, 0) / float64(max(o.Report.Checks.Received, 1))
			pts = append(pts, FanoutPoint{Fanout: f, Events: p.Events, Rate: p.Rate, CPUPerDelivery: perDelivery,
				P50: o.Latency.P50, P99: o.Latency.P99, Max: o.Latency.Max, DeliveriesPerS: o.DeliveriesPerS,
				Missing: o.Report.Checks.Missing})
			return nil
		})
		if err != nil {
			return pts, nil, err
		}
	}
	return pts, prof, nil
}

// profileLength covers the publishing time of p, between 2 and 30 s.
func profileLength(p load.FanoutParams) time.Duration {
	d := 5 * time.Second
	if p.Rate > 0 {
		d = time.Duration(float64(p.Events) / p.Rate * float64(time.Second))
	}
	return min(max(d, 2*time.Second), 30*time.Second)
}

// heartbeat measures the CPU of one heartbeat frame: n idle streams on a
// server with --heartbeat 1s, CPU over d minus the CPU of the same server
// without streams over d (its timers tick anyway), divided by the frames
// received. It also returns that idle CPU in µs per second.
func (m *measurer) heartbeat(n int, d time.Duration) (perHB, idleRate float64, err error) {
	if m.external != nil {
		return 0, 0, nil // its heartbeat interval is not ours to set
	}
	err = m.withServer([]string{"--heartbeat", "1s"}, func(t *load.Target) error {
		idle, err := cpuOver(t, d)
		if err != nil {
			return err
		}
		idleRate = float64(idle.Microseconds()) / d.Seconds()
		g, err := load.OpenGroup(m.env, load.OpenSpec{Target: *t, Channels: []string{"hb"}, N: n, Mode: load.ModeRead, Events: 1})
		if err != nil {
			return err
		}
		defer g.Close()
		time.Sleep(1500 * time.Millisecond) // past the first heartbeat of every stream
		u0, err := load.SampleUsage(t.PIDs)
		if err != nil {
			return err
		}
		rep0, err := g.Collect(load.CollectSpec{Events: 1, TimeoutMs: 1})
		if err != nil {
			return err
		}
		time.Sleep(d)
		u1, err := load.SampleUsage(t.PIDs)
		if err != nil {
			return err
		}
		rep1, err := g.Collect(load.CollectSpec{Events: 1, TimeoutMs: 1})
		if err != nil {
			return err
		}
		if hb := rep1.Heartbeats - rep0.Heartbeats; hb > 0 {
			perHB = float64((u1.CPU - u0.CPU - idle).Microseconds()) / float64(hb)
		}
		return nil
	})
	return perHB, idleRate, err
}

// cpuOver returns the server CPU time spent over the next d.
func cpuOver(t *load.Target, d time.Duration) (time.Duration, error) {
	u0, err := load.SampleUsage(t.PIDs)
	if err != nil {
		return 0, err
	}
	time.Sleep(d)
	u1, err := load.SampleUsage(t.PIDs)
	return u1.CPU - u0.CPU, err
}

// publish measures the CPU of a publish without subscribers.
func (m *measurer) publish(d time.Duration) (perPub, perS float64, err error) {
	err = m.withServer(nil, func(t *load.Target) error {
		res, err := load.Flood(m.env, t, load.FloodParams{Conns: 4, Window: 32, Duration: d})
		if err != nil {
			return err
		}
		perPub, perS = res.Value("server CPU per publish"), res.Value("publishes/s")
		return nil
	})
	return perPub, perS, err
}
