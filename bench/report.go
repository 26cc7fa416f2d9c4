package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Report is everything the planner measured and concluded.
type Report struct {
	Host          Host
	Started       time.Time
	Elapsed       string
	Args          []string
	Commit        string // git commit of the module the server was built from, when known
	Measured      Measured
	Plan          Plan
	Profile       *ProfileSummary `json:"-"`
	ProfileFanout int             // fan-out size the profile was taken at
	Redis         *RedisMeasured  `json:",omitempty"` // with --nodes > 1
	Cluster       *ClusterPlan    `json:",omitempty"` // with --nodes > 1
}

// writeText prints the measurements and the plan.
func (r *Report) writeText(w io.Writer) {
	fmt.Fprintln(w, "\n== idle memory")
	r.idleTable(w)
	fmt.Fprintln(w, "\n== fan-out")
	r.fanoutTable(w)
	fmt.Fprintf(w, "\nidle server: %.0f µs of CPU per second (subtracted above); heartbeat: %.2f µs of server CPU each; "+
		"publish without subscribers: %.2f µs each (%.0f/s reached)\n",
		r.Measured.IdleCPU, r.Measured.CPUPerHeartbeat, r.Measured.CPUPerPublish, r.Measured.PublishesPerS)
	fmt.Fprintln(w, "\n== capacity")
	r.planTable(w)
	if r.Cluster != nil {
		fmt.Fprintf(w, "\n== %d nodes on one Redis\n", r.Cluster.Nodes)
		r.redisTable(w)
		fmt.Fprintln(w)
		r.clusterTable(w)
	}
	if r.Profile != nil {
		fmt.Fprintf(w, "\n== CPU profile, fan-out %d: top 15 by flat time\n", r.ProfileFanout)
		r.Profile.WriteTop(w, 15)
	}
}

func (r *Report) idleTable(w io.Writer) {
	fmt.Fprintln(w, "| idle streams | RSS before | RSS after | RSS per stream | goroutines |\n|---:|---:|---:|---:|---:|")
	for _, p := range r.Measured.Idle {
		fmt.Fprintf(w, "| %d | %.1f MiB | %.1f MiB | %.2f KiB | %d |\n", p.Streams, mib(p.RSSBefore), mib(p.RSSAfter),
			p.BytesPerStream/1024, p.Goroutines)
	}
}

func (r *Report) fanoutTable(w io.Writer) {
	fmt.Fprintln(w, "| fan-out | events | rate (ev/s) | CPU per delivery | p50 | p99 | max | deliveries/s | missing |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, p := range r.Measured.Fanout {
		rate := "max"
		if p.Rate > 0 {
			rate = fmt.Sprintf("%.0f", p.Rate)
		}
		fmt.Fprintf(w, "| %d | %d | %s | %.2f µs | %.1f ms | %.1f ms | %.1f ms | %.0f | %d |\n", p.Fanout, p.Events, rate,
			p.CPUPerDelivery, p.P50, p.P99, p.Max, p.DeliveriesPerS, p.Missing)
	}
}

func (r *Report) planTable(w io.Writer) {
	h, p := r.Host, r.Plan
	fmt.Fprintf(w, "Host: %.0f cores (%.0f%% planned), %.0f GiB (%.0f%% planned), fd limit %d; heartbeat %v, %.3g events/s per channel, fan-out %d.\n\n",
		h.Cores, h.CPUHeadroom*100, float64(h.Mem)/(1<<30), h.MemHeadroom*100, h.FDLimit, h.Heartbeat, h.EventRate, h.Fanout)
	fmt.Fprintln(w, "| limit | connections | from |\n|---|---:|---|")
	fmt.Fprintf(w, "| memory | %d | %.2f KiB per connection (RSS %.2f + kernel %.2f + ring share) |\n", p.ByMemory,
		p.MemPerConn/1024, perStream(r.Measured.Idle)/1024, float64(h.KernelPerConn)/1024)
	fmt.Fprintf(w, "| file descriptors | %d | fd limit − %d |\n", p.ByFDs, fdReserve)
	fmt.Fprintf(w, "| CPU | %d | %.2f µs/s per connection: %.3g events/s × %.2f µs + %.3g heartbeats/s × %.2f µs + publishes |\n",
		p.ByCPU, p.CPUPerConn, h.EventRate, p.CPUPerDelivery, p.HeartbeatsPerS, r.Measured.CPUPerHeartbeat)
	fmt.Fprintf(w, "| **max** | **%d** | bound by %s; %d channels, %.3g deliveries/s |\n", p.Max, p.Limit, p.Channels, p.DeliveriesPerS)
}

func perStream(pts []IdlePoint) float64 {
	_, per := idleModel(pts)
	return per
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// writeDocs writes the Markdown report and its plots.
func (r *Report) writeDocs(path, svgDir string) error {
	if err := os.MkdirAll(svgDir, 0o755); err != nil {
		return err
	}
	charts := r.charts()
	for name, c := range charts {
		if err := os.WriteFile(filepath.Join(svgDir, name), []byte(c.SVG()), 0o644); err != nil {
			return err
		}
	}
	rel, err := filepath.Rel(filepath.Dir(path), svgDir)
	if err != nil {
		rel = svgDir
	}
	var b strings.Builder
	r.markdown(&b, rel)
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// charts are the plots of the report, by file name.
func (r *Report) charts() map[string]*Chart {
	var sx, sy, fx, p50, p99, cpu []float64
	for _, p := range r.Measured.Idle {
		sx, sy = append(sx, float64(p.Streams)), append(sy, mib(p.RSSAfter))
	}
	for _, p := range r.Measured.Fanout {
		fx, p50, p99, cpu = append(fx, float64(p.Fanout)), append(p50, p.P50), append(p99, p.P99), append(cpu, p.CPUPerDelivery)
	}
	return map[string]*Chart{
		"capacity-rss.svg": {Title: "Server RSS vs idle streams", XLabel: "idle streams", YLabel: "RSS (MiB)",
			Series: []Series{{Name: "RSS", Color: "#1f77b4", X: sx, Y: sy}}},
		"capacity-latency.svg": {Title: "Publish-to-receive latency vs fan-out", XLabel: "subscribers per channel", YLabel: "latency (ms)", LogX: true,
			Series: []Series{{Name: "p50", Color: "#2ca02c", X: fx, Y: p50}, {Name: "p99", Color: "#d62728", X: fx, Y: p99}}},
		"capacity-cpu.svg": {Title: "Server CPU per delivery vs fan-out", XLabel: "subscribers per channel", YLabel: "µs per delivery", LogX: true,
			Series: []Series{{Name: "CPU/delivery", Color: "#9467bd", X: fx, Y: cpu}}},
	}
}

// markdown writes docs/capacity.md.
func (r *Report) markdown(w io.Writer, svgRel string) {
	fmt.Fprintf(w, "# Capacity\n\nWritten by `go run ./bench %s` on %s (server at commit %s; %d CPUs, %s, %s; run took %s). "+
		"Loader and server share this machine, so the figures are conservative. Re-run to refresh.\n\n",
		strings.Join(r.Args, " "), r.Started.Format("2006-01-02 15:04 MST"), r.Commit, runtime.NumCPU(), runtime.GOOS,
		runtime.Version(), r.Elapsed)
	fmt.Fprintf(w, "## Idle streams\n\nOne channel, streams opened by worker processes, RSS of the server from /proc before "+
		"and 2 s after. Kernel socket memory is not in RSS.\n\n")
	r.idleTable(w)
	fmt.Fprintf(w, "\n![RSS vs idle streams](%s/capacity-rss.svg)\n\n", svgRel)
	fmt.Fprintf(w, "## Fan-out\n\nN subscribers on one channel, events published at the rate shown (the plan's event rate "+
		"unless --fanout-rate says otherwise); events carry the loader's CLOCK_MONOTONIC, so latency is "+
		"publish-to-receive on one clock. CPU is the server's utime+stime over the run, less the idle server's, "+
		"divided by the deliveries. "+
		"CPU per delivery falls as the event rate rises: events that queue while a socket waits for its turn leave in "+
		"one sendmsg.\n\n")
	r.fanoutTable(w)
	fmt.Fprintf(w, "\nAt small fan-outs and low rates few deliveries happen, so the per-event costs (the publish, waking a "+
		"flusher) divided by the fan-out dominate, and the 10 ms resolution of /proc CPU times shows.\n")
	fmt.Fprintf(w, "\n![latency vs fan-out](%s/capacity-latency.svg)\n![CPU per delivery vs fan-out](%s/capacity-cpu.svg)\n\n", svgRel, svgRel)
	fmt.Fprintf(w, "## Other costs\n\n- An idle server: %.0f µs of CPU per second (its timer wheels tick); "+
		"subtracted from the fan-out figures above.\n", r.Measured.IdleCPU)
	fmt.Fprintf(w, "- Heartbeat: %.2f µs of server CPU per `: hb` frame (%d idle streams, `--heartbeat 1s`, "+
		"minus the idle server's own CPU).\n"+
		"- Publish to a channel without subscribers: %.2f µs of server CPU (%.0f publishes/s over 4 pipelined connections, "+
		"JWT-authorized).\n\n", r.Measured.CPUPerHeartbeat, r.Measured.HBStreams, r.Measured.CPUPerPublish, r.Measured.PublishesPerS)
	fmt.Fprintf(w, "## Extrapolation\n\n")
	r.planTable(w)
	fmt.Fprintf(w, "\nModel: memory = base RSS + connections × (RSS per stream + kernel per socket + replay ring ÷ fan-out); "+
		"CPU scales linearly with cores (GOMAXPROCS flushers) — an assumption this 2-core machine cannot check; "+
		"per-connection CPU is interpolated in log(fan-out) between the measured sizes. Network bandwidth is not modelled.\n")
	if r.Cluster != nil {
		r.clusterMarkdown(w)
	}
	if r.Profile != nil {
		fmt.Fprintf(w, "\n## CPU profile of the %d-subscriber fan-out (top 15 by flat time)\n\n", r.ProfileFanout)
		r.Profile.WriteTop(w, 15)
	}
}
