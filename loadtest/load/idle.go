package load

import (
	"fmt"
	"time"
)

// IdleParams shapes an idle run: Streams idle subscriptions spread over
// Channels channels, measured Settle after they opened.
type IdleParams struct {
	Streams  int
	Channels int
	Settle   time.Duration
}

// IdleOutcome holds the raw figures of an idle run.
type IdleOutcome struct {
	Opened           int     `json:"opened"`
	RSSBefore        int64   `json:"rss_before"`
	RSSAfter         int64   `json:"rss_after"`
	BytesPerStream   float64 `json:"bytes_per_stream"`
	GoroutinesBefore int     `json:"goroutines_before"` // -1 when the target has no admin listener
	GoroutinesAfter  int     `json:"goroutines_after"`
}

// Idle opens p.Streams idle streams on t and measures the server's RSS and
// goroutines before and after.
func Idle(env *Env, t *Target, p IdleParams) (*Result, *IdleOutcome, error) {
	env.logf("%s: idle %d streams", t.Name, p.Streams)
	chans := make([]string, max(p.Channels, 1))
	for i := range chans {
		chans[i] = fmt.Sprintf("idle-%s-%d", randomHex(3), i)
	}
	// Warm-up: the first streams pay for one-time allocations.
	if g, err := OpenGroup(env, OpenSpec{Target: *t, Channels: chans, N: 10, Mode: ModeRead}); err == nil {
		g.Close()
	}
	time.Sleep(p.Settle)
	o := &IdleOutcome{GoroutinesBefore: -1, GoroutinesAfter: -1}
	u0, err := SampleUsage(t.PIDs)
	if err != nil {
		return nil, nil, err
	}
	o.RSSBefore = u0.RSS
	o.GoroutinesBefore = goroutinesOf(t)
	g, err := OpenGroup(env, OpenSpec{Target: *t, Channels: chans, N: p.Streams, Mode: ModeRead})
	if err != nil {
		return nil, nil, err
	}
	defer g.Close()
	time.Sleep(p.Settle)
	u1, err := SampleUsage(t.PIDs)
	if err != nil {
		return nil, nil, err
	}
	o.Opened, o.RSSAfter = g.Opened, u1.RSS
	o.GoroutinesAfter = goroutinesOf(t)
	if g.Opened > 0 {
		o.BytesPerStream = float64(o.RSSAfter-o.RSSBefore) / float64(g.Opened)
	}
	res := &Result{Scenario: "idle", Target: t.Name, Details: o}
	res.Add("streams", float64(o.Opened), "")
	res.Add("RSS before", float64(o.RSSBefore)/(1<<20), "MiB")
	res.Add("RSS after", float64(o.RSSAfter)/(1<<20), "MiB")
	res.Add("RSS per stream", o.BytesPerStream/1024, "KiB")
	res.Add("goroutines before", nanIfNeg(o.GoroutinesBefore), "")
	res.Add("goroutines after", nanIfNeg(o.GoroutinesAfter), "")
	if g.Failed > 0 {
		res.Notef("%d of %d streams failed to open: %v", g.Failed, p.Streams, g.Errors)
	}
	return res, o, nil
}

func goroutinesOf(t *Target) int {
	if t.Admin == "" {
		return -1
	}
	n, err := Goroutines(t.Admin)
	if err != nil {
		return -1
	}
	return n
}

func nanIfNeg(n int) float64 {
	if n < 0 {
		return nan()
	}
	return float64(n)
}
