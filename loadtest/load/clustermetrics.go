package load

import (
	"fmt"
	"runtime"
	"sort"
)

func numCPU() int { return runtime.NumCPU() }

// clusterMetrics writes the run's figures into res, in print order.
func clusterMetrics(res *Result, o *ClusterOutcome, p ClusterParams) {
	c := o.Report.Checks
	res.Add("nodes", float64(len(o.Nodes)), "")
	res.Add("subscribers", float64(o.Opened), "")
	res.Add("channels", float64(p.Channels), "")
	res.Add("events published", float64(o.Publish.OK), "")
	res.Add("publishes refused", float64(o.Publish.Sent-o.Publish.OK), "")
	res.Add("deliveries", float64(c.Received), "")
	res.Add("deliveries/s", o.DeliveriesPerS, "")
	res.Add("publish rate", float64(o.Publish.OK)/o.Publish.Elapsed.Seconds(), "/s")
	res.Add("latency p50", o.Latency.P50, "ms")
	res.Add("latency p99", o.Latency.P99, "ms")
	res.Add("latency max", o.Latency.Max, "ms")
	res.Add("publish latency p50", o.PublishLatency.P50, "ms")
	res.Add("publish latency p99", o.PublishLatency.P99, "ms")
	res.Add("missing", float64(c.Missing), "")
	res.Add("duplicated", float64(c.Duplicated), "")
	res.Add("out of order", float64(c.OutOfOrder), "")
	res.Add("subscribers incomplete", float64(c.Incomplete), "")
	res.Add("streams ended by server", float64(o.Report.Disconnects), "")
	res.Add("resets", float64(c.Resets), "")
	res.Add("announced lost", float64(c.Announced), "")
	for i, n := range o.Nodes {
		k := fmt.Sprintf("node %d ", i+1)
		res.Add(k+"subscribers", float64(n.Subscribers), "")
		res.Add(k+"RSS before", mibOf(n.RSSBefore), "MiB")
		res.Add(k+"RSS after", mibOf(n.RSSAfter), "MiB")
		res.Add(k+"RSS per stream", n.BytesPerStream/1024, "KiB")
		res.Add(k+"live heap per stream", n.HeapPerStream/1024, "KiB")
		res.Add(k+"CPU", n.CPU.Seconds(), "s")
	}
	if !p.Memory {
		res.Add("redis RSS", mibOf(o.RedisRSS), "MiB")
		res.Add("redis CPU", o.RedisCPU.Seconds(), "s")
	}
	res.Add("nodes CPU", o.NodesCPU.Seconds(), "s")
	res.Add("total CPU", (o.NodesCPU + o.RedisCPU).Seconds(), "s")
	res.Add("nodes CPU per delivery", o.NodesCPUPerDelivery, "µs")
	res.Add("total CPU per delivery", o.CPUPerDelivery, "µs")
	if !p.Memory {
		res.Add("redis CPU per publish", o.RedisCPUPerPublish, "µs")
	}
	switch p.Kill {
	case KillNode:
		nodeKillMetrics(res, o)
	case KillRedis:
		redisKillMetrics(res, o)
	}
	clusterNotes(res, o, p)
}

// nodeKillMetrics: how the killed node's subscribers got through.
func nodeKillMetrics(res *Result, o *ClusterOutcome) {
	r := o.Report
	m := r.Move.Summarize()
	res.Add("killed node's subscribers", float64(o.Fault.Victims), "")
	res.Add("subscribers moved", float64(r.Moved), "")
	res.Add("resumed after kill p50", m.P50, "ms")
	res.Add("resumed after kill p99", m.P99, "ms")
	res.Add("all resumed after kill", m.Max, "ms")
	res.Add("events lost", float64(r.Checks.Missing), "")
	if r.Moved != o.Fault.Victims {
		res.Notef("%d subscribers moved, the killed node had %d", r.Moved, o.Fault.Victims)
	}
}

// redisKillMetrics: 503s while Redis was down, resets and recovery after.
func redisKillMetrics(res *Result, o *ClusterOutcome) {
	f, r := o.Fault, o.Report
	res.Add("redis down (kill to answering)", msBetween(f.KilledAt, f.RestartedAt), "ms")
	res.Add("publishes answered 503", float64(o.Publish.Statuses[503]), "")
	res.Add("first publish OK after restart", msBetween(f.RestartedAt, o.Publish.FirstOK), "ms")
	res.Add("subscribers reset", float64(r.Reset.Count()), "")
	res.Add("all reset after restart", r.Reset.Summarize().Max, "ms")
	res.Add("all got an event after reset", r.AfterReset.Summarize().Max, "ms")
	if f.RestartErr != "" {
		res.Notef("redis restart: %s", f.RestartErr)
	}
	if o.Publish.FirstOK == 0 {
		res.Notef("no publish succeeded after the restart: give more -events or a lower -rate")
	}
}

// msBetween returns b - a in ms, NaN when either is unknown.
func msBetween(a, b int64) float64 {
	if a == 0 || b == 0 {
		return nan()
	}
	return float64(b-a) / 1e6
}

func mibOf(b int64) float64 { return float64(b) / (1 << 20) }

// clusterNotes explains what the figures do not say by themselves.
func clusterNotes(res *Result, o *ClusterOutcome, p ClusterParams) {
	c := o.Report.Checks
	want := int64(o.Opened) * int64(p.Events)
	if o.Publish.OK == p.Events*p.Channels && int64(c.Received) != want {
		res.Notef("received %d event frames, expected %d", c.Received, want)
	}
	if n := o.Publish.Sent - o.Publish.OK; n > 0 {
		res.Notef("publish answers: %v, connection errors %d (refused events are not expected by the checker)",
			o.Publish.Statuses, o.Publish.Errors)
	}
	if len(o.Report.Statuses) > 0 {
		res.Notef("refused reconnects by status: %v", sortedStatuses(o.Report.Statuses))
	}
	for i, x := range o.Report.Samples {
		if i == 2 {
			res.Notef("(%d more odd frames in the JSON details)", len(o.Report.Samples)-i)
			break
		}
		res.Notef("%s", x)
	}
}

func sortedStatuses(m map[int]int) string {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	s := ""
	for _, k := range ks {
		s += fmt.Sprintf("%d×%d ", k, m[k])
	}
	return s
}
