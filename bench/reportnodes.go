package main

import (
	"fmt"
	"io"
)

// redisTable prints what was measured of nodes on Redis.
func (r *Report) redisTable(w io.Writer) {
	m := r.Redis
	fmt.Fprintln(w, "| measured (one redis-server, this machine) | value |\n|---|---:|")
	fmt.Fprintf(w, "| idle streams on one node on Redis | %d: %.1f → %.1f MiB, %.2f KiB per stream (memory engine: %.2f) |\n",
		m.Idle.Streams, mib(m.Idle.RSSBefore), mib(m.Idle.RSSAfter), m.Idle.BytesPerStream/1024, perStream(r.Measured.Idle)/1024)
	fmt.Fprintf(w, "| publishes through one node, 16 pipelined connections, no subscribers | %.0f/s; node %.2f µs, Redis %.2f µs of CPU each |\n",
		m.FloodPerS, m.FloodNodeCPU, m.FloodRedisCPU)
	fmt.Fprintf(w, "| Redis CPU per event, 1 node subscribed | %.2f µs |\n", m.RedisAt1)
	fmt.Fprintf(w, "| Redis CPU per event, %d nodes subscribed | %.2f µs |\n", m.FanoutNodes, m.RedisAtK)
	fmt.Fprintf(w, "| → publish (script) a | %.2f µs |\n| → pub/sub fan-out per node b | %.2f µs |\n", m.PublishCPU, m.FanoutCPU)
	fmt.Fprintf(w, "| node CPU per event per node serving the channel (%d nodes) | %.2f µs |\n", m.FanoutNodes, m.NodeEventCPU)
}

// clusterTable prints the plan for several nodes.
func (r *Report) clusterTable(w io.Writer) {
	h, c, p := r.Host, r.Cluster, r.Cluster.PerNode
	fmt.Fprintf(w, "%d nodes like the host above, each a channel's %d subscribers (fan-out %d ÷ %d); Redis on %.3g core(s) (%.0f%% planned).\n\n",
		c.Nodes, c.FanoutPerNode, h.Fanout, c.Nodes, h.RedisCores, h.CPUHeadroom*100)
	fmt.Fprintln(w, "| limit | connections | from |\n|---|---:|---|")
	fmt.Fprintf(w, "| one node: memory | %d | %.2f KiB per connection (RSS on Redis %.2f + kernel %.2f + ring share) |\n",
		p.ByMemory, p.MemPerConn/1024, r.Redis.Idle.BytesPerStream/1024, float64(h.KernelPerConn)/1024)
	fmt.Fprintf(w, "| one node: file descriptors | %d | fd limit − %d |\n", p.ByFDs, fdReserve)
	fmt.Fprintf(w, "| one node: CPU | %d | %.2f µs/s per connection: %.3g events/s × %.2f µs + %.3g heartbeats/s × %.2f µs + %.3g events/s ÷ %d × %.2f µs per event served |\n",
		p.ByCPU, p.CPUPerConn, h.EventRate, p.CPUPerDelivery, p.HeartbeatsPerS, r.Measured.CPUPerHeartbeat,
		h.EventRate, c.FanoutPerNode, r.Redis.NodeEventCPU)
	fmt.Fprintf(w, "| %d nodes | %d | %d × %d (each bound by %s) |\n", c.Nodes, c.ByNodes, c.Nodes, p.Max, p.Limit)
	fmt.Fprintf(w, "| Redis CPU | %d | %.2f µs per event (a %.2f + %d nodes per channel × b %.2f): %.0f events/s; × fan-out %d ÷ %.3g events/s per channel |\n",
		c.ByRedis, c.RedisPerEvent, r.Redis.PublishCPU, c.NodesPerChannel, r.Redis.FanoutCPU, c.RedisEventsPerS, h.Fanout, h.EventRate)
	fmt.Fprintf(w, "| **cluster max** | **%d** | bound by %s; %d channels, %.3g events/s through Redis, %.3g deliveries/s |\n",
		c.Max, c.Limit, c.Channels, c.EventsPerS, c.DeliveriesPerS)
}

// clusterMarkdown writes the several-nodes section of docs/capacity.md.
func (r *Report) clusterMarkdown(w io.Writer) {
	m := r.Redis
	fmt.Fprintf(w, "\n## %d nodes on one Redis\n\n", r.Cluster.Nodes)
	fmt.Fprintf(w, "Measured with a redis-server (no persistence) on this machine, beside the nodes and the loader: idle "+
		"streams on one node running `--redis`; a publish flood through one node (no subscribers); and the `cluster` load "+
		"scenario twice, with 1 and with %d nodes, one subscriber per node on each of %d channels, %d events as fast as "+
		"answered. Redis CPU per event is Redis's utime+stime over the run ÷ the events; the straight line through the "+
		"two runs gives the script's cost (a) and what each subscribed node adds (b: Redis sends each event once per "+
		"node that serves the channel, not once per subscriber). The flood's Redis cost per publish is lower than a: "+
		"its 512 publishes in flight reach Redis in larger pipelined batches (fewer reads and writes per command), "+
		"where the cluster runs, with %d in flight, are closer to many independent publishers.\n\n",
		m.FanoutNodes, redisChannels, m.ClusterEvents, redisChannels)
	r.redisTable(w)
	fmt.Fprintln(w, "\n### Extrapolation")
	fmt.Fprintln(w)
	r.clusterTable(w)
	fmt.Fprintf(w, "\nModel: every node is planned as the single node above (same host, heartbeat, event rate), with "+
		"its idle memory measured on Redis, a fan-out of fan-out ÷ nodes (a channel's subscribers are spread over "+
		"the nodes) and, per event of every channel it serves, the node cost measured with %d nodes (its share of "+
		"the publishes, receiving the event from pub/sub, applying it to its mirror; it includes one delivery, so it "+
		"is a little pessimistic). The cluster holds nodes × one node. Redis is a bound of its own: every event "+
		"costs a + (nodes serving the channel) × b of Redis CPU, within --redis-cores × the CPU headroom. One "+
		"redis-server runs commands on one thread: --redis-cores above 1 only applies to a Redis Cluster, whose "+
		"masters split the channels (16 partitions by hash tag, so unevenly at small counts). Not modelled: "+
		"network between nodes and Redis, Redis memory (the streams hold --replay-buffer events per channel), "+
		"publishes that arrive in bursts, and reconnect storms after a node dies.\n", m.FanoutNodes)
}
