// Command bench is the capacity planner of realtime:
//
//	go run ./bench [--cores 16 --mem 64GiB --fd-limit 1048576 --heartbeat 30s --event-rate 10/s --fanout 10000]
//
// It starts the server (or measures the one named by --target/--admin/--pid),
// measures idle memory per stream at several sizes, the CPU and latency of
// fan-out at several sizes, the cost of a heartbeat and of a publish,
// profiles the largest fan-out, prints a capacity table extrapolated to the
// host given by the flags, and writes docs/capacity.md with the tables and
// SVG plots. Traffic goes to loopback only and every step is bounded.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/workkit/realtime/loadtest/load"
)

func main() {
	load.MaybeWorker()
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	cfg, err := parseFlags(args)
	if err != nil {
		return 2
	}
	if err := cfg.prepare(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	rep, err := cfg.measure()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v (logs in %s)\n", err, cfg.logDir)
		return 1
	}
	if cfg.tmpLogDir {
		defer os.RemoveAll(cfg.logDir)
	}
	rep.Plan = Extrapolate(rep.Measured, cfg.host)
	if rep.Redis != nil {
		cp := ExtrapolateNodes(rep.Measured, *rep.Redis, cfg.host)
		rep.Cluster = &cp
	}
	rep.writeText(os.Stdout)
	if err := rep.writeDocs(cfg.out, cfg.svgDir); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "bench: wrote %s\n", cfg.out)
	if cfg.jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(cfg.jsonOut, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}
	return 0
}

// prepare builds realtime when needed and resolves the output paths.
func (c *config) prepare() error {
	if c.logDir == "" {
		d, err := os.MkdirTemp("", "bench-")
		if err != nil {
			return err
		}
		c.logDir, c.tmpLogDir = d, true
	}
	root, err := load.ModuleRoot()
	if err == nil {
		if c.out == "" {
			c.out = filepath.Join(root, "docs", "capacity.md")
		}
		if c.svgDir == "" {
			c.svgDir = filepath.Join(root, "docs")
		}
	} else if c.out == "" {
		return fmt.Errorf("not inside the module: give --out and --svg-dir")
	}
	if c.bin == "" && c.target == "" {
		c.bin = filepath.Join(c.logDir, "realtime")
		fmt.Fprintln(os.Stderr, "bench: building realtime into", c.bin)
		return load.BuildRealtime(c.bin)
	}
	return nil
}

// measure runs every measurement in turn.
func (c *config) measure() (*Report, error) {
	m := &measurer{env: &load.Env{PerWorker: c.perWorker, Deadline: time.Now().Add(c.timeout), Log: os.Stderr},
		bin: c.bin, logDir: c.logDir}
	if c.target != "" {
		m.external = &load.Target{Name: "realtime", Dialect: load.Realtime, Addr: c.target, Admin: c.admin, Token: c.token}
		if c.pid > 0 {
			m.external.PIDs = []int{c.pid}
		}
	}
	rep := &Report{Host: c.host, Started: time.Now().UTC(), Args: c.args, Commit: gitCommit()}
	var err error
	if rep.Measured.Idle, err = m.idle(c.sizes); err != nil {
		return nil, fmt.Errorf("idle: %w", err)
	}
	rep.Measured.HBStreams = c.hbStreams
	var idleRate float64
	if rep.Measured.CPUPerHeartbeat, idleRate, err = m.heartbeat(c.hbStreams, c.hbTime); err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	rep.Measured.IdleCPU = idleRate
	rate := c.fanoutRate
	if rate < 0 {
		rate = c.host.EventRate // measure at the rate the plan is for
	}
	fp := fanoutPlan{fanouts: c.fanouts, deliveries: c.deliveries, rate: rate, maxTime: 15 * time.Second,
		profile: c.target == "" || c.admin != ""}
	var prof []byte
	if rep.Measured.Fanout, prof, err = m.fanout(fp, idleRate); err != nil {
		return nil, fmt.Errorf("fanout: %w", err)
	}
	if prof != nil {
		if rep.Profile, err = SummarizeProfile(prof); err != nil {
			return nil, fmt.Errorf("profile: %w", err)
		}
		rep.ProfileFanout = c.fanouts[len(c.fanouts)-1]
	}
	if rep.Measured.CPUPerPublish, rep.Measured.PublishesPerS, err = m.publish(3 * time.Second); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	if c.host.Nodes > 1 {
		if rep.Redis, err = m.redis(c.host.Nodes, slices.Max(c.sizes)); err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
	}
	rep.Elapsed = time.Since(rep.Started).Round(time.Second).String()
	return rep, nil
}

// gitCommit names the commit of the working tree ("unknown" outside git),
// with "+changes" when tracked files differ from it.
func gitCommit() string {
	root, err := load.ModuleRoot()
	if err != nil {
		return "unknown"
	}
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if exec.Command("git", "-C", root, "diff", "--quiet", "HEAD").Run() != nil {
		c += "+changes"
	}
	return c
}
