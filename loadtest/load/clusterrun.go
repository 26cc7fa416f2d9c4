package load

import (
	"fmt"
	"sync/atomic"
	"time"
)

// ClusterOutcome holds the raw figures of a cluster run.
type ClusterOutcome struct {
	Nodes               []NodeFigures `json:"nodes"`
	Opened              int           `json:"opened"`
	Publish             SpreadStats   `json:"publish"`
	Report              *WorkerReport `json:"report"`
	Latency             Summary       `json:"latency"`
	PublishLatency      Summary       `json:"publish_latency"`
	RedisCPU            time.Duration `json:"redis_cpu_ns"`
	RedisRSS            int64         `json:"redis_rss"`
	RedisPIDs           []int         `json:"redis_pids"` // at the start
	NodesCPU            time.Duration `json:"nodes_cpu_ns"`
	CPUWindow           time.Duration `json:"cpu_window_ns"`
	CPUPerDelivery      float64       `json:"cpu_per_delivery_us"`       // nodes + Redis
	NodesCPUPerDelivery float64       `json:"nodes_cpu_per_delivery_us"` // nodes only
	RedisCPUPerPublish  float64       `json:"redis_cpu_per_publish_us"`
	DeliveriesPerS      float64       `json:"deliveries_per_s"`
	Fault               FaultFigures  `json:"fault"`
	Profile             []byte        `json:"-"` // node 0's CPU profile, when asked for
}

// NodeFigures are one node's figures.
type NodeFigures struct {
	Addr           string        `json:"addr"`
	PID            int           `json:"pid"`
	Subscribers    int           `json:"subscribers"`
	RSSBefore      int64         `json:"rss_before"` // before the subscribers opened
	RSSAfter       int64         `json:"rss_after"`  // Settle after they opened
	BytesPerStream float64       `json:"bytes_per_stream"`
	HeapBefore     int64         `json:"heap_before"` // live Go heap after a forced GC, read after RSSBefore
	HeapAfter      int64         `json:"heap_after"`  // the same after RSSAfter
	HeapPerStream  float64       `json:"heap_per_stream"`
	CPU            time.Duration `json:"cpu_ns"` // over the publishing and delivery
	Killed         bool          `json:"killed"`
}

// FaultFigures describe the fault injected, if any (Mono() times).
type FaultFigures struct {
	Kind        string `json:"kind,omitempty"`
	Victims     int    `json:"victims,omitempty"` // KillNode: subscribers of the killed node
	KilledAt    int64  `json:"killed_at,omitempty"`
	RestartedAt int64  `json:"restarted_at,omitempty"` // KillRedis: Redis answers again
	RestartErr  string `json:"restart_err,omitempty"`
}

// run measures memory around opening the subscribers, then publishes
// (with the fault) and collects.
func (c *clusterRun) run() (*ClusterOutcome, error) {
	p := c.p
	out := &ClusterOutcome{Nodes: make([]NodeFigures, len(c.nodes))}
	for i := range c.nodes {
		out.Nodes[i] = NodeFigures{Addr: c.nodes[i].Target.Addr, PID: c.nodes[i].Target.PIDs[0],
			Subscribers: shareOf(p.Subscribers, len(c.nodes), i)}
	}
	if c.redis != nil {
		out.RedisPIDs = c.redis.PIDs()
	}
	// Warm-up: one stream per node and channel pays for the mirrors and
	// one-time allocations before the first RSS reading.
	if g, err := OpenGroup(c.env, c.spec(len(c.nodes)*len(c.chans), ModeRead)); err == nil {
		g.Close()
	}
	time.Sleep(p.Settle)
	c.readRSS(out, func(f *NodeFigures, rss, heap int64) { f.RSSBefore, f.HeapBefore = rss, heap })
	mode := ModeRead
	if p.Kill == KillNode {
		mode = ModeFollow
	}
	c.env.logf("%s: %d subscribers over %d nodes, %d channels", p.Name(), p.Subscribers, len(c.nodes), len(c.chans))
	g, err := OpenGroup(c.env, c.spec(p.Subscribers, mode))
	if err != nil {
		return nil, err
	}
	defer g.Close()
	out.Opened = g.Opened
	if g.Failed > 0 {
		return nil, fmt.Errorf("load: %d of %d subscriptions failed: %v", g.Failed, p.Subscribers, g.Errors)
	}
	time.Sleep(p.Settle)
	c.readRSS(out, func(f *NodeFigures, rss, heap int64) {
		f.RSSAfter, f.HeapAfter = rss, heap
		f.BytesPerStream = float64(f.RSSAfter-f.RSSBefore) / float64(max(f.Subscribers, 1))
		f.HeapPerStream = float64(f.HeapAfter-f.HeapBefore) / float64(max(f.Subscribers, 1))
		if f.HeapBefore < 0 || f.HeapAfter < 0 {
			f.HeapPerStream = nan()
		}
	})
	if err := c.deliver(out, g); err != nil {
		return nil, err
	}
	return out, nil
}

// shareOf returns how many of n subscribers, dealt round-robin, node i of
// nodes gets.
func shareOf(n, nodes, i int) int {
	k := n / nodes
	if i < n%nodes {
		k++
	}
	return k
}

// readRSS reads every node's RSS, then its live heap (which forces a GC,
// so it comes second), and Redis's RSS into out.RedisRSS.
func (c *clusterRun) readRSS(out *ClusterOutcome, set func(f *NodeFigures, rss, heap int64)) {
	rss := make([]int64, len(c.nodes))
	for i, s := range c.nodes {
		if u, err := SampleUsage(s.Target.PIDs); err == nil {
			rss[i] = u.RSS
		}
	}
	for i, s := range c.nodes {
		heap, err := LiveHeap(s.Target.Admin)
		if err != nil {
			heap = -1
		}
		set(&out.Nodes[i], rss[i], heap)
	}
	if c.redis != nil {
		if u, err := SampleUsage(c.redis.PIDs()); err == nil {
			out.RedisRSS = u.RSS
		}
	}
}

// deliver publishes with the fault, collects, and books CPU over both.
func (c *clusterRun) deliver(out *ClusterOutcome, g *Group) error {
	p := c.p
	slots, redisSlot := nodeSlots(c.nodes, c.redis)
	plan := SpreadPlan{Channels: c.chans, Events: p.Events, Rate: p.Rate, Pad: p.Pad, At: p.Events/2 + 1}
	restarted := c.arm(&plan, out, slots, redisSlot)
	for _, s := range slots {
		s.begin()
	}
	if redisSlot != nil {
		redisSlot.begin()
	}
	prof := startProfile(&c.nodes[0].Target, p.Profile)
	m0, w0 := Mono(), time.Now()
	out.Publish = PublishSpread(c.targets(), plan)
	if restarted != nil {
		select {
		case <-restarted:
		case <-time.After(time.Minute):
			return fmt.Errorf("load: redis did not restart within a minute")
		}
	}
	since := out.Fault.KilledAt
	if p.Kill == KillRedis {
		since = out.Fault.RestartedAt
	}
	var err error
	out.Report, err = g.Collect(CollectSpec{Events: p.Events, QuietMs: 10_000, TimeoutMs: 300_000,
		Since: since, Unpublished: out.Publish.Refused})
	if err != nil {
		return err
	}
	out.CPUWindow = time.Since(w0)
	for i, s := range slots {
		out.Nodes[i].CPU = s.used()
		out.NodesCPU += out.Nodes[i].CPU
	}
	if redisSlot != nil {
		out.RedisCPU = redisSlot.used()
	}
	out.Profile = prof.wait(c.env)
	c.summarize(out, m0)
	return nil
}

// arm sets plan's hook for the fault of the run; for KillRedis it returns
// a channel closed once Redis was restarted.
func (c *clusterRun) arm(plan *SpreadPlan, out *ClusterOutcome, slots []*cpuSlot, redisSlot *cpuSlot) chan struct{} {
	f := &out.Fault
	f.Kind = c.p.Kill
	switch c.p.Kill {
	case KillNode:
		victim := len(c.nodes) - 1
		f.Victims = out.Nodes[victim].Subscribers
		var down atomic.Bool
		plan.Down = func(n int) bool { return n == victim && down.Load() }
		plan.Hook = func() {
			c.env.logf("cluster: SIGKILL node %d (%s)", victim+1, c.nodes[victim].Target.Addr)
			slots[victim].retire()
			down.Store(true)
			f.KilledAt = Mono()
			c.nodes[victim].Kill()
			out.Nodes[victim].Killed = true
		}
	case KillRedis:
		restarted := make(chan struct{})
		plan.Hook = func() {
			c.env.logf("cluster: SIGKILL %s, restart in %v", c.redis.Name(), c.p.RedisDown)
			redisSlot.retire()
			f.KilledAt = Mono()
			if err := c.redis.Kill(); err != nil {
				f.RestartErr = err.Error()
			}
			time.AfterFunc(c.p.RedisDown, func() {
				err := c.redis.Restart()
				f.RestartedAt = Mono() // every process answers again
				if err == nil {
					err = c.redis.WaitOK()
				}
				if err != nil {
					f.RestartErr = err.Error()
				}
				close(restarted)
			})
		}
		return restarted
	}
	return nil
}

// summarize derives the per-delivery and per-publish figures.
func (c *clusterRun) summarize(out *ClusterOutcome, m0 int64) {
	n := out.Report.Checks.Received
	out.Latency = out.Report.Lat.Summarize()
	out.PublishLatency = out.Publish.Lat.Summarize()
	if n > 0 {
		out.CPUPerDelivery = float64((out.NodesCPU + out.RedisCPU).Microseconds()) / float64(n)
		out.NodesCPUPerDelivery = float64(out.NodesCPU.Microseconds()) / float64(n)
		if d := out.Report.LastFrame - m0; d > 0 {
			out.DeliveriesPerS = float64(n) / (float64(d) / 1e9)
		}
	}
	if out.Publish.OK > 0 {
		out.RedisCPUPerPublish = float64(out.RedisCPU.Microseconds()) / float64(out.Publish.OK)
	}
}
