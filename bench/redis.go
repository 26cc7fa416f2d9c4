package main

import (
	"fmt"
	"time"

	"github.com/workkit/realtime/loadtest/load"
)

// RedisMeasured is what the planner measured of nodes sharing one
// redis-server on this machine (--nodes > 1).
type RedisMeasured struct {
	Idle          IdlePoint // idle streams on one node running on Redis
	FloodPerS     float64   // publishes/s one node reached through Redis (pipelined, no subscribers)
	FloodNodeCPU  float64   // µs of node CPU per publish in that flood
	FloodRedisCPU float64   // µs of Redis CPU per publish in that flood (nobody subscribed)
	FanoutNodes   int       // K: nodes of the second cluster run
	RedisAt1      float64   // µs of Redis CPU per event with 1 node subscribed to the channel
	RedisAtK      float64   // the same with K nodes subscribed
	PublishCPU    float64   // a: Redis CPU per publish (the script), fitted: RedisAt1 - FanoutCPU
	FanoutCPU     float64   // b: Redis CPU per event per subscribed node (pub/sub sends it once per node)
	NodeEventCPU  float64   // µs of node CPU per event per node serving the channel (K-node run)
	ClusterEvents int       // events per cluster run
}

// Sizes of the Redis measurements.
const (
	redisChannels    = 16   // channels of a cluster run: publishes in flight at once
	redisEventsPerCh = 1000 // events per channel
	redisFloodTime   = 3 * time.Second
)

// redis measures the Redis costs: idle memory per stream on a node on
// Redis (at the largest idle size), a publish flood through one node, and
// two cluster runs (1 node, then K = min(nodes, 3)) with one subscriber per
// node and channel, from which the Redis CPU per publish and per
// subscribed node are fitted.
func (m *measurer) redis(nodes int, idleSize int) (*RedisMeasured, error) {
	r := &RedisMeasured{FanoutNodes: min(max(nodes, 2), 3), ClusterEvents: redisChannels * redisEventsPerCh}
	err := m.withRedisServer(func(t *load.Target) error {
		_, o, err := load.Idle(m.env, t, load.IdleParams{Streams: idleSize, Channels: 1, Settle: 2 * time.Second})
		if err != nil {
			return err
		}
		r.Idle = IdlePoint{Streams: idleSize, RSSBefore: o.RSSBefore, RSSAfter: o.RSSAfter,
			BytesPerStream: o.BytesPerStream, Goroutines: o.GoroutinesAfter}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("idle on redis: %w", err)
	}
	if err := m.withRedisServer(func(t *load.Target) error { return r.flood(m.env, t) }); err != nil {
		return nil, fmt.Errorf("flood on redis: %w", err)
	}
	var kRun *load.ClusterOutcome
	for _, k := range []int{1, r.FanoutNodes} {
		out, err := m.clusterRun(k)
		if err != nil {
			return nil, fmt.Errorf("cluster of %d: %w", k, err)
		}
		if k == 1 {
			r.RedisAt1 = out.RedisCPUPerPublish
		} else {
			r.RedisAtK, kRun = out.RedisCPUPerPublish, out
		}
	}
	r.fit(kRun)
	return r, nil
}

// flood publishes through one node for redisFloodTime.
func (r *RedisMeasured) flood(env *load.Env, t *load.Target) error {
	res, err := load.Flood(env, t, load.FloodParams{Conns: 16, Window: 32, Duration: redisFloodTime})
	if err != nil {
		return err
	}
	r.FloodPerS = res.Value("publishes/s")
	r.FloodNodeCPU = res.Value("server CPU per publish")
	r.FloodRedisCPU = res.Value("redis CPU per publish")
	return nil
}

// fit derives the publish and per-node fan-out costs of Redis from the two
// cluster runs (a straight line through them; a negative slope, which
// measurement noise can give, is taken as 0), and the node cost per event.
func (r *RedisMeasured) fit(kRun *load.ClusterOutcome) {
	r.FanoutCPU = max(0, (r.RedisAtK-r.RedisAt1)/float64(r.FanoutNodes-1))
	r.PublishCPU = max(0, r.RedisAt1-r.FanoutCPU)
	if kRun != nil && kRun.Publish.OK > 0 {
		r.NodeEventCPU = float64(kRun.NodesCPU.Microseconds()) / float64(kRun.Publish.OK*r.FanoutNodes)
	}
}

// clusterRun runs the cluster scenario with k nodes, one subscriber per
// node and channel, events as fast as answered.
func (m *measurer) clusterRun(k int) (*load.ClusterOutcome, error) {
	_, out, err := load.Cluster(m.env, load.ClusterParams{Nodes: k, Subscribers: k * redisChannels,
		Channels: redisChannels, Events: redisEventsPerCh, Settle: 500 * time.Millisecond, Bin: m.bin, LogDir: m.logDir})
	if err != nil {
		return nil, err
	}
	if c := out.Report.Checks; !c.Clean() {
		return nil, fmt.Errorf("subscribers saw %+v", c)
	}
	return out, nil
}

// withRedisServer runs fn against a fresh realtime on a fresh
// redis-server (whose PIDs are in the target's Redis).
func (m *measurer) withRedisServer(fn func(t *load.Target) error) error {
	r, err := load.StartRedis(false, m.logDir)
	if err != nil {
		return err
	}
	defer r.Stop()
	return m.withServer([]string{"--redis", r.URL()}, func(t *load.Target) error {
		if err := load.WaitReady(t, 15*time.Second); err != nil {
			return err
		}
		t.Redis = r.PIDs()
		return fn(t)
	})
}
