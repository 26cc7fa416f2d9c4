package load

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// soakResult turns a soak's outcome into its table and notes.
func soakResult(t *Target, o *SoakOutcome) *Result {
	rep, c, v := o.Report, o.Report.Checks, o.Verdict
	res := &Result{Scenario: "soak", Target: t.Name, Details: o, Failed: !v.Pass}
	res.Add("streams", float64(o.Opened), "")
	res.Add("churning streams", float64(o.Churners), "")
	res.Add("duration", o.Params.Duration.Seconds(), "s")
	res.Add("events published", float64(o.Publish.OK), "")
	res.Add("events checked per channel", float64(o.PerChannel), "")
	res.Add("deliveries", float64(c.Received), "")
	l, rs := rep.Lat.Summarize(), rep.Resume.Summarize()
	res.Add("latency p50 (steady streams)", l.P50, "ms")
	res.Add("latency p99 (steady streams)", l.P99, "ms")
	res.Add("latency max (steady streams)", l.Max, "ms")
	res.Add("drops", float64(rep.Drops), "")
	res.Add("resumes", float64(rep.Reconnects), "")
	res.Add("resume connect p99", rs.P99, "ms")
	res.Add("RSS at reference sample", mib(v.RefRSS), "MiB")
	res.Add("RSS at last sample", mib(v.LastRSS), "MiB")
	res.Add("RSS drift", v.RSSDrift*100, "%")
	ref, last := o.Samples[refIndex(o.Samples, v.RefAt)], o.Samples[len(o.Samples)-1]
	if ref.LiveHeap >= 0 && last.LiveHeap >= 0 { // -force-gc
		res.Add("live heap at reference sample", mib(ref.LiveHeap), "MiB")
		res.Add("live heap at last sample", mib(last.LiveHeap), "MiB")
	}
	res.Add("goroutines min", nanIfNeg(v.GoroutinesMin), "")
	res.Add("goroutines max", nanIfNeg(v.GoroutinesMax), "")
	lo, hi := streamRange(o.Samples)
	res.Add("open streams min", nanIfNeg(lo), "")
	res.Add("open streams max", nanIfNeg(hi), "")
	res.Add("heartbeats seen per stream", float64(rep.Heartbeats)/float64(max(o.Opened, 1)), "")
	res.Add("server heartbeats_total", nanIfNeg(o.Samples[len(o.Samples)-1].Heartbeats), "")
	res.Add("lost", float64(c.Missing), "")
	res.Add("duplicated", float64(c.Duplicated), "")
	res.Add("out of order", float64(c.OutOfOrder), "")
	res.Add("resets", float64(c.Resets), "")
	res.Add("announced lost", float64(c.Announced), "")
	res.Add("streams ended by server", float64(rep.Disconnects), "")
	res.Notef("verdict: %s", v)
	soakNotes(res, o)
	return res
}

// soakNotes adds what went oddly: publish trouble, refused resumes, odd
// frames.
func soakNotes(res *Result, o *SoakOutcome) {
	pb := o.Publish
	if pb.OK != o.PerChannel*len(pb.Published) || pb.ConnErrors > 0 {
		res.Notef("publish: answers %v, %d broken connections (each resent), per channel %v (err: %s)",
			pb.Statuses, pb.ConnErrors, pb.Published, pb.Err)
	}
	if len(o.Report.Statuses) > 0 {
		res.Notef("refused resumes by status: %v", o.Report.Statuses)
	}
	for _, x := range o.Report.Samples {
		res.Notef("%s", x)
	}
}

// streamRange is the smallest and largest realtime_subscribers sampled
// (-1 when none was).
func streamRange(samples []SoakSample) (lo, hi int) {
	lo, hi = -1, -1
	for _, s := range samples {
		if s.Streams < 0 {
			continue
		}
		if lo < 0 || s.Streams < lo {
			lo = s.Streams
		}
		hi = max(hi, s.Streams)
	}
	return lo, hi
}

// soakRows is the sample table, header first; the reference row is
// marked.
func soakRows(o *SoakOutcome) [][]string {
	rows := [][]string{{"elapsed", "RSS (MiB)", "vs ref", "heap in use (MiB)", "live heap (MiB)", "GCs",
		"goroutines", "open streams", "heartbeats_total"}}
	for _, s := range o.Samples {
		at := clock(s.Elapsed)
		if s.Elapsed == o.Verdict.RefAt {
			at += " (ref)"
		}
		drift := "-"
		if o.Verdict.RefRSS > 0 {
			drift = fmt.Sprintf("%+.1f %%", float64(s.RSS-o.Verdict.RefRSS)/float64(o.Verdict.RefRSS)*100)
		}
		rows = append(rows, []string{at, fmt.Sprintf("%.1f", mib(s.RSS)), drift, mibOrDash(s.HeapInuse),
			mibOrDash(s.LiveHeap), dash(s.GCs), dash(s.Goroutines), dash(s.Streams), dash(s.Heartbeats)})
	}
	return rows
}

// mibOrDash prints bytes in MiB, or "-" for an unknown (negative) figure.
func mibOrDash(b int64) string {
	if b < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", mib(b))
}

func dash(n int) string {
	if n < 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

// PrintSoakSamples writes the table of a soak's samples.
func PrintSoakSamples(w io.Writer, o *SoakOutcome) {
	PrintRows(w, fmt.Sprintf("soak samples (every %v)", o.Params.Sample), soakRows(o))
}

// SoakPlot draws RSS (with the ±5 % band around the reference) and the
// Go heap in use, and goroutines, over the minutes of a soak.
func SoakPlot(o *SoakOutcome) *Plot {
	var x, rss, heap, gor []float64
	for _, s := range o.Samples {
		x = append(x, s.Elapsed.Minutes())
		rss = append(rss, mib(s.RSS))
		heap = append(heap, mib(max(s.HeapInuse, 0)))
		gor = append(gor, float64(max(s.Goroutines, 0)))
	}
	ref := mib(o.Verdict.RefRSS)
	p := o.Params
	return &Plot{
		Title: fmt.Sprintf("soak: %d streams on %d channels, %.0f %% churning", o.Opened, p.Channels, p.Churn*100),
		Subtitle: fmt.Sprintf("%v events/s, heartbeat %v; shaded: ±%.0f %% of the RSS at %s", p.Rate, p.Heartbeat,
			rssFlatShare*100, clock(o.Verdict.RefAt)),
		XLabel: "minutes",
		Panels: []PlotPanel{
			{YLabel: "server RSS (MiB)", Band: []float64{ref * (1 - rssFlatShare), ref * (1 + rssFlatShare)},
				Series: []PlotSeries{{Name: "RSS", Color: "#1f77b4", X: x, Y: rss},
					{Name: "heap in use", Color: "#9ecae1", X: x, Y: heap}}},
			{YLabel: "goroutines", Series: []PlotSeries{{Name: "goroutines", Color: "#d62728", X: x, Y: gor}}},
		},
	}
}

// WriteSoakMarkdown writes a markdown section on the soak to path: the
// command, the verdict, the sample table and, when svgPath is not empty,
// the plot (linked relative to path).
func WriteSoakMarkdown(path, command, svgPath string, o *SoakOutcome) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## Soak\n\n`%s`\n\n", command)
	fmt.Fprintf(&b, "%d streams on %d channels for %v, %.0f %% of them dropping each stream after %v–%v and resuming "+
		"with Last-Event-ID after up to %v; %v events/s; RSS (VmRSS) and goroutines sampled every %v.\n\n",
		o.Opened, o.Params.Channels, o.Params.Duration, o.Params.Churn*100, o.Params.HoldMin, o.Params.HoldMax,
		o.Params.MaxDown, o.Params.Rate, o.Params.Sample)
	fmt.Fprintf(&b, "**%s**\n\n", o.Verdict)
	rows := soakRows(o)
	b.WriteString("| " + strings.Join(rows[0], " | ") + " |\n|" + strings.Repeat("---:|", len(rows[0])) + "\n")
	for _, r := range rows[1:] {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	if svgPath != "" {
		rel := svgPath
		dir, err1 := filepath.Abs(filepath.Dir(path))
		abs, err2 := filepath.Abs(svgPath)
		if r, err := filepath.Rel(dir, abs); err1 == nil && err2 == nil && err == nil {
			rel = r
		}
		fmt.Fprintf(&b, "\n![RSS, heap and goroutines over the soak](%s)\n", filepath.ToSlash(rel))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
