package load

import (
	"time"
)

// ChurnParams shapes a churn run: Clients on one channel while Events are
// published at Rate per second; each client drops about Drops times at
// random and resumes with Last-Event-ID after up to MaxDown.
type ChurnParams struct {
	Clients int
	Events  int
	Rate    float64
	Drops   float64
	MaxDown time.Duration
	Seed    uint64
}

// Churn runs the churn scenario: at the end every client must hold every
// event exactly once and in order, or have been told of the gap by a
// realtime.reset.
func Churn(env *Env, t *Target, p ChurnParams) (*Result, *WorkerReport, error) {
	env.logf("%s: churn %d clients, %d events at %v/s, ~%v drops each", t.Name, p.Clients, p.Events, p.Rate, p.Drops)
	channel := "churn-" + randomHex(4)
	prob := 0.0
	if p.Events > 0 {
		prob = p.Drops / float64(p.Events)
	}
	g, err := OpenGroup(env, OpenSpec{Target: *t, Channels: []string{channel}, N: p.Clients, Mode: ModeChurn,
		Events: p.Events, Churn: ChurnSpec{DropProb: prob, MaxDownMs: int(p.MaxDown / time.Millisecond), Seed: p.Seed}})
	if err != nil {
		return nil, nil, err
	}
	defer g.Close()
	res := &Result{Scenario: "churn", Target: t.Name}
	if g.Failed > 0 {
		res.Notef("%d of %d clients failed to connect: %v", g.Failed, p.Clients, g.Errors)
	}
	pub, err := PublishSeq(t, PublishPlan{Channel: channel, Events: p.Events, Rate: p.Rate})
	if err != nil {
		return nil, nil, err
	}
	rep, err := g.Collect(CollectSpec{Events: p.Events, QuietMs: 10_000, TimeoutMs: 120_000})
	if err != nil {
		return nil, nil, err
	}
	c := rep.Checks
	res.Details = rep
	res.Add("clients", float64(g.Opened), "")
	res.Add("events published", float64(pub.OK), "")
	res.Add("drops", float64(rep.Drops), "")
	res.Add("reconnects", float64(rep.Reconnects), "")
	rs := rep.Resume.Summarize()
	res.Add("resume connect p50", rs.P50, "ms")
	res.Add("resume connect p99", rs.P99, "ms")
	res.Add("resume connect max", rs.Max, "ms")
	res.Add("clients complete", float64(rep.Done), "")
	res.Add("lost", float64(c.Missing), "")
	res.Add("duplicated", float64(c.Duplicated), "")
	res.Add("out of order", float64(c.OutOfOrder), "")
	res.Add("resets", float64(c.Resets), "")
	res.Add("announced lost", float64(c.Announced), "")
	if len(rep.Statuses) > 0 {
		res.Notef("refused reconnects by status: %v", rep.Statuses)
	}
	for _, x := range rep.Samples {
		res.Notef("%s", x)
	}
	if rep.Disconnects > 0 {
		res.Notef("%d clients gave up after failed reconnects or a stream error", rep.Disconnects)
	}
	return res, rep, nil
}
