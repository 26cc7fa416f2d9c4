package main

import (
	"math"
	"sort"
	"time"
)

// Host describes the machine a deployment is planned for.
type Host struct {
	Cores         float64       // CPU cores the server may use
	Mem           int64         // bytes of memory
	FDLimit       int           // RLIMIT_NOFILE of the server process
	Heartbeat     time.Duration // --heartbeat
	EventRate     float64       // events per second per channel (each subscriber sees all of them)
	Fanout        int           // subscribers per channel
	PayloadBytes  int           // size of one framed event (replay ring memory)
	ReplayBuffer  int           // --replay-buffer
	CPUHeadroom   float64       // share of the cores to plan for (the rest absorbs bursts)
	MemHeadroom   float64       // share of the memory to plan for
	KernelPerConn int64         // kernel socket memory per idle connection (not in RSS)
	Nodes         int           // realtime nodes sharing one Redis; 1: one node on the memory engine
	RedisCores    float64       // cores Redis may use (one per Cluster master; one redis-server uses one)
}

// FanoutPoint is one measured fan-out size.
type FanoutPoint struct {
	Fanout         int     `json:"fanout"`
	Events         int     `json:"events"`
	Rate           float64 `json:"rate"`                // events/s published
	CPUPerDelivery float64 `json:"cpu_per_delivery_us"` // µs of server CPU per delivered event
	P50, P99, Max  float64 // ms publish-to-receive
	DeliveriesPerS float64 `json:"deliveries_per_s"`
	Missing        int     `json:"missing"`
}

// IdlePoint is one measured idle size.
type IdlePoint struct {
	Streams        int     `json:"streams"`
	RSSBefore      int64   `json:"rss_before"`
	RSSAfter       int64   `json:"rss_after"`
	BytesPerStream float64 `json:"bytes_per_stream"`
	Goroutines     int     `json:"goroutines"`
}

// Measured is what the planner measured on this machine.
type Measured struct {
	Idle            []IdlePoint
	Fanout          []FanoutPoint
	CPUPerHeartbeat float64 // µs of server CPU per heartbeat frame sent
	HBStreams       int     // idle streams of the heartbeat measurement
	IdleCPU         float64 // µs of CPU per second of a server with nothing to do (its timer ticks)
	CPUPerPublish   float64 // µs of server CPU per publish without subscribers
	PublishesPerS   float64 // single publishes per second the flood reached
}

// Plan is the extrapolation of Measured to a Host.
type Plan struct {
	ByMemory, ByFDs, ByCPU int
	Max                    int     // the smallest of the three
	Limit                  string  // which one binds: "memory", "file descriptors" or "CPU"
	MemPerConn             float64 // bytes: RSS + kernel + share of the channel's ring
	CPUPerConn             float64 // µs of CPU per second per connection
	CPUPerDelivery         float64 // µs, interpolated at Host.Fanout
	HeartbeatsPerS         float64 // per connection
	Channels               int     // at Max connections
	DeliveriesPerS         float64 // at Max connections
}

// fdReserve is what the server keeps for listeners, logs and publishers.
const fdReserve = 64

// Extrapolate computes the connections a host can hold by memory, by file
// descriptors and by CPU for the host's event rate, fan-out and heartbeat.
// CPU is assumed to scale linearly with cores (the reactor runs
// GOMAXPROCS flushers); that is the model's main assumption.
func Extrapolate(m Measured, h Host) Plan {
	var p Plan
	base, perConn := idleModel(m.Idle)
	ring := float64(h.ReplayBuffer*h.PayloadBytes) / float64(max(h.Fanout, 1))
	p.MemPerConn = perConn + float64(h.KernelPerConn) + ring
	p.ByMemory = int(math.Max(0, (float64(h.Mem)*h.MemHeadroom-float64(base))/p.MemPerConn))
	p.ByFDs = max(0, h.FDLimit-fdReserve)
	p.CPUPerDelivery = interpolate(m.Fanout, h.Fanout)
	p.HeartbeatsPerS = heartbeatsPerSecond(h.EventRate, h.Heartbeat)
	p.CPUPerConn = h.EventRate*p.CPUPerDelivery + p.HeartbeatsPerS*m.CPUPerHeartbeat +
		h.EventRate/float64(max(h.Fanout, 1))*m.CPUPerPublish
	p.ByCPU = math.MaxInt32
	if p.CPUPerConn > 0 {
		p.ByCPU = int(h.Cores * h.CPUHeadroom * 1e6 / p.CPUPerConn)
	}
	p.Max, p.Limit = p.ByMemory, "memory"
	if p.ByFDs < p.Max {
		p.Max, p.Limit = p.ByFDs, "file descriptors"
	}
	if p.ByCPU < p.Max {
		p.Max, p.Limit = p.ByCPU, "CPU"
	}
	p.Channels = (p.Max + h.Fanout - 1) / max(h.Fanout, 1)
	p.DeliveriesPerS = float64(p.Max) * h.EventRate
	return p
}

// idleModel fits RSS = base + perConn·streams through the largest idle
// measurement (the per-stream figure is most precise there).
func idleModel(pts []IdlePoint) (base int64, perConn float64) {
	if len(pts) == 0 {
		return 0, 0
	}
	big := pts[0]
	for _, p := range pts {
		if p.Streams > big.Streams {
			big = p
		}
	}
	return big.RSSBefore, big.BytesPerStream
}

// heartbeatsPerSecond is the heartbeat frames one connection gets per
// second when events come every 1/rate seconds: a heartbeat follows each
// full interval without a write.
func heartbeatsPerSecond(rate float64, hb time.Duration) float64 {
	if hb <= 0 {
		return 0
	}
	if rate <= 0 {
		return 1 / hb.Seconds()
	}
	return rate * math.Floor(1/(rate*hb.Seconds()))
}

// interpolate returns the CPU per delivery at fanout f, linear in
// log(fanout) between the measured points and flat beyond them.
func interpolate(pts []FanoutPoint, f int) float64 {
	if len(pts) == 0 {
		return 0
	}
	s := append([]FanoutPoint(nil), pts...)
	sort.Slice(s, func(i, j int) bool { return s[i].Fanout < s[j].Fanout })
	if f <= s[0].Fanout {
		return s[0].CPUPerDelivery
	}
	for i := 1; i < len(s); i++ {
		if f <= s[i].Fanout {
			a, b := s[i-1], s[i]
			x := (math.Log(float64(f)) - math.Log(float64(a.Fanout))) / (math.Log(float64(b.Fanout)) - math.Log(float64(a.Fanout)))
			return a.CPUPerDelivery + x*(b.CPUPerDelivery-a.CPUPerDelivery)
		}
	}
	return s[len(s)-1].CPUPerDelivery
}
