package load

import (
	"time"
)

// SlowParams shapes a slow-consumer run: Subscribers streams, of which a
// SlowShare stop reading (SO_RCVBUF RcvBuf) while Events of Pad filler
// bytes are published at Rate per second.
type SlowParams struct {
	Subscribers int
	SlowShare   float64
	Events      int
	Rate        float64
	Pad         int
	RcvBuf      int
}

// Slow runs the same fan-out twice on t, without and then with the stalled
// subscribers, and reports the readers' latency of both side by side and
// how many stalled subscribers the server disconnected.
func Slow(env *Env, t *Target, p SlowParams) (*Result, error) {
	nSlow := int(float64(p.Subscribers) * p.SlowShare)
	nFast := p.Subscribers - nSlow
	env.logf("%s: slow: %d readers, %d stalled, %d events of %d B at %v/s", t.Name, nFast, nSlow, p.Events, p.Pad, p.Rate)
	res := &Result{Scenario: "slow", Target: t.Name}
	base, _, err := slowPhase(env, t, p, nFast, 0)
	if err != nil {
		return nil, err
	}
	with, slowRep, err := slowPhase(env, t, p, nFast, nSlow)
	if err != nil {
		return nil, err
	}
	bl, wl := base.Lat.Summarize(), with.Lat.Summarize()
	res.Add("readers", float64(nFast), "")
	res.Add("stalled subscribers", float64(nSlow), "")
	res.Add("p50 without stalled", bl.P50, "ms")
	res.Add("p50 with stalled", wl.P50, "ms")
	res.Add("p99 without stalled", bl.P99, "ms")
	res.Add("p99 with stalled", wl.P99, "ms")
	res.Add("max without stalled", bl.Max, "ms")
	res.Add("max with stalled", wl.Max, "ms")
	res.Add("readers missing events", float64(base.Checks.Missing+with.Checks.Missing), "")
	res.Add("stalled disconnected", float64(slowRep.SlowClosed), "")
	res.Add("stalled still open", float64(slowRep.SlowOpen), "")
	return res, nil
}

// slowPhase runs one fan-out to nFast readers with nSlow stalled
// subscribers on the same channel.
func slowPhase(env *Env, t *Target, p SlowParams, nFast, nSlow int) (fast, slow *WorkerReport, err error) {
	channel := "slow-" + randomHex(4)
	slow = &WorkerReport{}
	var sg *Group
	if nSlow > 0 {
		sg, err = OpenGroup(env, OpenSpec{Target: *t, Channels: []string{channel}, N: nSlow, Mode: ModeSlow,
			RcvBuf: p.RcvBuf, Events: p.Events})
		if err != nil {
			return nil, nil, err
		}
		defer sg.Close()
	}
	fg, err := OpenGroup(env, OpenSpec{Target: *t, Channels: []string{channel}, N: nFast, Mode: ModeRead, Events: p.Events})
	if err != nil {
		return nil, nil, err
	}
	defer fg.Close()
	time.Sleep(300 * time.Millisecond)
	if _, err := PublishSeq(t, PublishPlan{Channel: channel, Events: p.Events, Rate: p.Rate, Pad: p.Pad}); err != nil {
		return nil, nil, err
	}
	fast, err = fg.Collect(CollectSpec{Events: p.Events, QuietMs: 5000, TimeoutMs: 120_000})
	if err != nil || sg == nil {
		return fast, slow, err
	}
	slow, err = sg.Collect(CollectSpec{Events: p.Events, DrainMs: 2000})
	return fast, slow, err
}
