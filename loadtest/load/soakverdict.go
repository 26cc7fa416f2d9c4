package load

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// rssFlatShare is how far the last RSS sample may lie from the reference
// sample for RSS to count as flat.
const rssFlatShare = 0.05

// SoakVerdict is the judgement of a soak. RSS is flat when the last sample
// lies within 5 % of the reference sample (the one closest to SoakRefTime);
// goroutines are flat when max − min over all samples is within the slack;
// events are clean when no subscriber lost, duplicated or reordered one
// (gaps announced by realtime.reset are counted, not failed).
type SoakVerdict struct {
	RefAt          time.Duration `json:"ref_at_ns"`  // elapsed of the reference sample
	LastAt         time.Duration `json:"last_at_ns"` // elapsed of the last sample
	RefRSS         int64         `json:"ref_rss"`
	LastRSS        int64         `json:"last_rss"`
	RSSDrift       float64       `json:"rss_drift"` // (last − ref) / ref
	RSSFlat        bool          `json:"rss_flat"`
	GoroutinesMin  int           `json:"goroutines_min"` // -1: unknown (no admin listener)
	GoroutinesMax  int           `json:"goroutines_max"`
	GoroutineSlack int           `json:"goroutine_slack"`
	GoroutinesFlat bool          `json:"goroutines_flat"`
	Checks         Checks        `json:"checks"`
	Opened         int           `json:"opened"`
	Wanted         int           `json:"wanted"`
	Pass           bool          `json:"pass"`
}

// SoakRefTime is when a soak of length d takes its reference RSS: minute
// 2, or 20 % of d for a run shorter than 10 minutes.
func SoakRefTime(d time.Duration) time.Duration { return min(2*time.Minute, d/5) }

// JudgeSoak judges the samples and the merged checks of a soak with
// parameters p in which opened of p.Streams streams opened.
func JudgeSoak(samples []SoakSample, p SoakParams, c Checks, opened int) SoakVerdict {
	v := SoakVerdict{GoroutinesMin: -1, GoroutinesMax: -1, GoroutineSlack: p.GoroutineSlack, Checks: c,
		Opened: opened, Wanted: p.Streams}
	if len(samples) == 0 {
		return v
	}
	ref, last := samples[refIndex(samples, SoakRefTime(p.Duration))], samples[len(samples)-1]
	v.RefAt, v.LastAt, v.RefRSS, v.LastRSS = ref.Elapsed, last.Elapsed, ref.RSS, last.RSS
	if ref.RSS > 0 {
		v.RSSDrift = float64(last.RSS-ref.RSS) / float64(ref.RSS)
		v.RSSFlat = math.Abs(v.RSSDrift) <= rssFlatShare
	}
	for _, s := range samples {
		if s.Goroutines < 0 {
			continue
		}
		if v.GoroutinesMin < 0 || s.Goroutines < v.GoroutinesMin {
			v.GoroutinesMin = s.Goroutines
		}
		v.GoroutinesMax = max(v.GoroutinesMax, s.Goroutines)
	}
	v.GoroutinesFlat = v.GoroutinesMin >= 0 && v.GoroutinesMax-v.GoroutinesMin <= p.GoroutineSlack
	v.Pass = v.RSSFlat && v.GoroutinesFlat && c.Clean() && opened == p.Streams
	return v
}

// refIndex returns the index of the sample closest to at (the earlier one
// on a tie).
func refIndex(samples []SoakSample, at time.Duration) int {
	best := 0
	for i, s := range samples {
		if (s.Elapsed - at).Abs() < (samples[best].Elapsed - at).Abs() {
			best = i
		}
	}
	return best
}

// String is the verdict as one line: PASS or FAIL with the failing parts
// first, then every figure it rests on.
func (v SoakVerdict) String() string {
	var fails []string
	if !v.RSSFlat {
		fails = append(fails, "RSS not flat")
	}
	if !v.GoroutinesFlat {
		fails = append(fails, "goroutines not flat")
	}
	if !v.Checks.Clean() {
		fails = append(fails, "events lost, duplicated or out of order")
	}
	if v.Opened != v.Wanted {
		fails = append(fails, fmt.Sprintf("%d of %d streams opened", v.Opened, v.Wanted))
	}
	head := "PASS"
	if !v.Pass {
		head = "FAIL (" + strings.Join(fails, "; ") + ")"
	}
	g := "unknown (no admin listener)"
	if v.GoroutinesMin >= 0 {
		g = fmt.Sprintf("%d..%d (range %d, limit %d)", v.GoroutinesMin, v.GoroutinesMax,
			v.GoroutinesMax-v.GoroutinesMin, v.GoroutineSlack)
	}
	c := v.Checks
	return fmt.Sprintf("%s: RSS %.1f MiB at %s vs %.1f MiB at %s (%+.1f %%, limit ±%.0f %%); goroutines %s; "+
		"lost %d, duplicated %d, out of order %d; resets %d (%d events announced lost)",
		head, mib(v.LastRSS), clock(v.LastAt), mib(v.RefRSS), clock(v.RefAt), v.RSSDrift*100, rssFlatShare*100,
		g, c.Missing, c.Duplicated, c.OutOfOrder, c.Resets, c.Announced)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
