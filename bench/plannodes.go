package main

import "math"

// ClusterPlan is the extrapolation to Host.Nodes nodes sharing one Redis.
type ClusterPlan struct {
	Nodes           int
	FanoutPerNode   int     // a channel's subscribers on one node: fan-out ÷ nodes (at least 1)
	NodesPerChannel int     // nodes serving one channel: min(nodes, fan-out); Redis sends each event to each
	PerNode         Plan    // one node's bounds, planned at FanoutPerNode with the Redis engine's costs
	ByNodes         int     // nodes × PerNode.Max
	RedisPerEvent   float64 // µs of Redis CPU per published event: publish + nodes per channel × fan-out
	RedisEventsPerS float64 // events/s Redis can take within its cores and the CPU headroom
	ByRedis         int     // connections those events allow at the host's event rate and fan-out
	Max             int     // the smaller of ByNodes and ByRedis
	Limit           string  // "nodes (<their limit>)" or "Redis CPU"
	Channels        int     // at Max connections
	EventsPerS      float64 // publishes/s Redis handles at Max
	DeliveriesPerS  float64 // at Max
}

// ExtrapolateNodes plans h.Nodes nodes on one Redis. Each node is bounded
// by its own memory, fds and CPU as in Extrapolate, with three changes:
// its idle memory is the one measured on Redis; a channel's subscribers
// are split over the nodes, so a node's fan-out is fan-out ÷ nodes; and
// each event of a channel it serves costs it NodeEventCPU (its share of
// the publishes, the pub/sub message, the mirror) instead of a memory
// publish. The cluster holds nodes × that. Redis runs every publish's
// script (PublishCPU) and sends the event to every node serving the
// channel (FanoutCPU each): with E events/s it needs E × (PublishCPU +
// nodes per channel × FanoutCPU) µs/s, within RedisCores × CPUHeadroom.
func ExtrapolateNodes(m Measured, r RedisMeasured, h Host) ClusterPlan {
	n := max(h.Nodes, 1)
	cp := ClusterPlan{Nodes: n, FanoutPerNode: max(1, h.Fanout/n), NodesPerChannel: min(n, max(h.Fanout, 1))}
	node := m
	node.Idle = []IdlePoint{r.Idle}
	node.CPUPerPublish = r.NodeEventCPU
	nh := h
	nh.Fanout = cp.FanoutPerNode
	cp.PerNode = Extrapolate(node, nh)
	cp.ByNodes = n * cp.PerNode.Max
	cp.RedisPerEvent = r.PublishCPU + float64(cp.NodesPerChannel)*r.FanoutCPU
	cp.RedisEventsPerS = math.Inf(1)
	cp.ByRedis = math.MaxInt32
	if cp.RedisPerEvent > 0 {
		cp.RedisEventsPerS = h.RedisCores * h.CPUHeadroom * 1e6 / cp.RedisPerEvent
		if h.EventRate > 0 {
			cp.ByRedis = int(math.Min(cp.RedisEventsPerS/h.EventRate*float64(max(h.Fanout, 1)), math.MaxInt32))
		}
	}
	cp.Max, cp.Limit = cp.ByNodes, "nodes ("+cp.PerNode.Limit+")"
	if cp.ByRedis < cp.Max {
		cp.Max, cp.Limit = cp.ByRedis, "Redis CPU"
	}
	cp.Channels = (cp.Max + h.Fanout - 1) / max(h.Fanout, 1)
	cp.EventsPerS = float64(cp.Channels) * h.EventRate
	cp.DeliveriesPerS = float64(cp.Max) * h.EventRate
	return cp
}
