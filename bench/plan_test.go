package main

import (
	"math"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

var testMeasured = Measured{
	Idle: []IdlePoint{
		{Streams: 1000, RSSBefore: 10 << 20, BytesPerStream: 5000},
		{Streams: 10000, RSSBefore: 10 << 20, BytesPerStream: 3000},
	},
	Fanout: []FanoutPoint{
		{Fanout: 100, CPUPerDelivery: 4},
		{Fanout: 10000, CPUPerDelivery: 1},
		{Fanout: 1000, CPUPerDelivery: 2},
	},
	CPUPerHeartbeat: 5,
	CPUPerPublish:   20,
}

func TestInterpolate(t *testing.T) {
	for f, want := range map[int]float64{10: 4, 100: 4, 1000: 2, 10000: 1, 50000: 1, 3162: 1.5} {
		if got := interpolate(testMeasured.Fanout, f); math.Abs(got-want) > 0.01 {
			t.Errorf("fanout %d: %v, want %v", f, got, want)
		}
	}
	if interpolate(nil, 5) != 0 {
		t.Error("no points")
	}
}

func TestHeartbeatsPerSecond(t *testing.T) {
	for _, c := range []struct {
		rate float64
		hb   time.Duration
		want float64
	}{{0, 30 * time.Second, 1.0 / 30}, {10, 30 * time.Second, 0}, {0.01, 30 * time.Second, 0.03}, {1, 0, 0}} {
		if got := heartbeatsPerSecond(c.rate, c.hb); !near(got, c.want) {
			t.Errorf("rate %v hb %v: %v, want %v", c.rate, c.hb, got, c.want)
		}
	}
}

func TestExtrapolate(t *testing.T) {
	h := Host{Cores: 16, Mem: 64 << 30, FDLimit: 1 << 20, Heartbeat: 30 * time.Second, EventRate: 10, Fanout: 10000,
		PayloadBytes: 200, ReplayBuffer: 50, CPUHeadroom: 0.5, MemHeadroom: 0.5, KernelPerConn: 4000}
	p := Extrapolate(testMeasured, h)
	memPer := 3000.0 + 4000 + 50*200.0/10000
	if !near(p.MemPerConn, memPer) || p.ByMemory != int((32<<30-10<<20)/memPer) {
		t.Errorf("memory: %v per conn, %d conns", p.MemPerConn, p.ByMemory)
	}
	if p.ByFDs != 1<<20-64 {
		t.Errorf("fds: %d", p.ByFDs)
	}
	// 10 events/s x 1 µs + no heartbeats + 10/10000 publishes x 20 µs = 10.02 µs/s per connection.
	if !near(p.CPUPerConn, 10.02) || p.ByCPU != 798403 {
		t.Errorf("cpu: %v µs/s per conn, %d conns", p.CPUPerConn, p.ByCPU)
	}
	if p.Max != p.ByCPU || p.Limit != "CPU" || p.Channels != (p.Max+9999)/10000 || !near(p.DeliveriesPerS, float64(p.Max)*10) {
		t.Errorf("plan %+v", p)
	}
	h.EventRate = 0 // idle: heartbeats only, the fd limit binds
	p = Extrapolate(testMeasured, h)
	if p.Limit != "file descriptors" || !near(p.HeartbeatsPerS, 1.0/30) {
		t.Errorf("idle plan %+v", p)
	}
}

func TestExtrapolateNodes(t *testing.T) {
	h := Host{Cores: 16, Mem: 64 << 30, FDLimit: 1 << 20, Heartbeat: 30 * time.Second, EventRate: 10, Fanout: 10000,
		PayloadBytes: 200, ReplayBuffer: 50, CPUHeadroom: 0.5, MemHeadroom: 0.5, KernelPerConn: 4000, Nodes: 4, RedisCores: 1}
	r := RedisMeasured{Idle: IdlePoint{Streams: 10000, RSSBefore: 20 << 20, BytesPerStream: 4000},
		PublishCPU: 30, FanoutCPU: 2, NodeEventCPU: 40}
	c := ExtrapolateNodes(testMeasured, r, h)
	if c.FanoutPerNode != 2500 || c.NodesPerChannel != 4 {
		t.Fatalf("fan-out per node %d, nodes per channel %d", c.FanoutPerNode, c.NodesPerChannel)
	}
	// Per connection on a node: 10 events/s x interpolated CPU per delivery at 2500 + 10/2500 events x 40 µs.
	if want := 10*interpolate(testMeasured.Fanout, 2500) + 10.0/2500*40; !near(c.PerNode.CPUPerConn, want) {
		t.Errorf("node CPU per connection %v, want %v", c.PerNode.CPUPerConn, want)
	}
	if c.ByNodes != 4*c.PerNode.Max {
		t.Errorf("by nodes %d, per node %d", c.ByNodes, c.PerNode.Max)
	}
	// Redis: 30 + 4 x 2 = 38 µs per event, 0.5e6/38 events/s, x 10000 subscribers / 10 events/s.
	perS := 0.5e6 / 38.0
	if !near(c.RedisPerEvent, 38) || c.ByRedis != int(perS/10*10000) {
		t.Errorf("redis: %v µs per event, %d connections", c.RedisPerEvent, c.ByRedis)
	}
	if c.Max != min(c.ByNodes, c.ByRedis) || c.Channels != (c.Max+9999)/10000 {
		t.Errorf("plan %+v", c)
	}
	h.Fanout = 2 // fewer subscribers than nodes: each channel on 2 nodes, one subscriber each
	if c = ExtrapolateNodes(testMeasured, r, h); c.FanoutPerNode != 1 || c.NodesPerChannel != 2 || !near(c.RedisPerEvent, 34) {
		t.Errorf("small fan-out: %+v", c)
	}
}
