package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/workkit/realtime/loadtest/load"
)

// soakScenario binds the soak: many streams held for minutes under churn
// and a steady event rate while the server's RSS and goroutines are
// sampled; its verdict decides the exit code.
func soakScenario(o *options) scenario {
	p := load.SoakParams{}
	var replay int
	var plot, md string
	fs := o.fs
	fs.IntVar(&p.Streams, "n", 19_000, "streams (up to ~19,000 against one server)")
	fs.IntVar(&p.Channels, "channels", 10, "channels soak:0.. the streams are spread over, round-robin")
	fs.DurationVar(&p.Duration, "duration", 10*time.Minute, "how long the streams are held while events flow")
	fs.DurationVar(&p.Heartbeat, "heartbeat", 5*time.Second, "realtime --heartbeat for this run")
	fs.Float64Var(&p.Churn, "churn", 0.10, "share of streams that keep dropping and resuming with Last-Event-ID")
	fs.DurationVar(&p.HoldMin, "hold-min", 5*time.Second, "shortest time a churning stream is held")
	fs.DurationVar(&p.HoldMax, "hold-max", 30*time.Second, "longest time a churning stream is held")
	fs.DurationVar(&p.MaxDown, "max-down", 500*time.Millisecond, "longest wait of a churner before it resumes")
	fs.Float64Var(&p.Rate, "rate", 50, "events per second over all channels")
	fs.DurationVar(&p.Sample, "sample", 30*time.Second, "server sampling interval")
	fs.DurationVar(&p.Drain, "drain", 15*time.Second, "bound of the wait for the last events once publishing stopped")
	fs.IntVar(&p.GoroutineSlack, "goroutine-slack", 10, "goroutines are flat when max - min of the samples is at most this")
	fs.Uint64Var(&p.Seed, "seed", 1, "random seed of the holds and waits")
	fs.BoolVar(&p.ForceGC, "force-gc", false, "force a GC in the server before each sample and show its live heap (tells a leak from GC pacing)")
	fs.IntVar(&replay, "replay-buffer", 200, "realtime --replay-buffer for this run (0: the server's default, 50)")
	fs.StringVar(&plot, "plot", "", "write an SVG of RSS and goroutines over time to this file")
	fs.StringVar(&md, "md", "", "write a markdown section (command, verdict, samples, the -plot image) to this file")
	sc := scenario{run: func(env *load.Env, t *load.Target) (*load.Result, error) {
		if left := time.Until(env.Deadline); left < p.Duration+p.Drain+time.Minute {
			return nil, fmt.Errorf("--timeout leaves %v: too short for -duration %v plus -drain %v and setup",
				left.Round(time.Second), p.Duration, p.Drain)
		}
		r, out, err := load.Soak(env, t, p)
		if err != nil {
			return nil, err
		}
		if need := p.Rate / float64(p.Channels) * (p.MaxDown + 10*time.Second).Seconds(); replay > 0 && float64(replay) < need {
			r.Notef("--replay-buffer %d holds under 10 s of one channel's events: a resume may overrun it", replay)
		}
		if o.target != "" {
			r.Notef("with --target the running server's own --heartbeat and --replay-buffer apply")
		}
		load.PrintSoakSamples(os.Stdout, out)
		return r, writeSoakFiles(out, plot, md, r)
	}}
	sc.serverArgsFn = func() []string {
		args := []string{"--heartbeat", p.Heartbeat.String()}
		if replay > 0 {
			args = append(args, "--replay-buffer", fmt.Sprint(replay))
		}
		return args
	}
	return sc
}

// writeSoakFiles writes the -plot SVG and the -md section, when asked.
func writeSoakFiles(out *load.SoakOutcome, plot, md string, r *load.Result) error {
	if plot != "" {
		if err := os.WriteFile(plot, []byte(load.SoakPlot(out).SVG()), 0o644); err != nil {
			return err
		}
		r.Notef("plot written to %s", plot)
	}
	if md != "" {
		cmd := "go run ./loadtest " + strings.Join(os.Args[1:], " ")
		if err := load.WriteSoakMarkdown(md, cmd, plot, out); err != nil {
			return err
		}
		r.Notef("markdown written to %s", md)
	}
	return nil
}

// chanfloodScenario binds the channel flood: one token making a new
// channel with every pipelined poll, the server's RSS and channel count
// sampled during and after it.
func chanfloodScenario(o *options) scenario {
	p := load.ChanFloodParams{}
	var maxChannels int
	fs := o.fs
	fs.IntVar(&p.Conns, "conns", 4, "keep-alive connections")
	fs.IntVar(&p.Window, "window", 64, "pipelined polls per connection")
	fs.DurationVar(&p.Duration, "duration", 8*time.Second, "how long to flood")
	fs.DurationVar(&p.Settle, "settle", 15*time.Second, "wait after the flood before the last reading (is memory freed?)")
	fs.DurationVar(&p.Sample, "sample", 250*time.Millisecond, "server sampling interval")
	fs.StringVar(&p.Prefix, "prefix", "flood:", "channel name prefix; the poll number follows")
	fs.IntVar(&maxChannels, "max-channels", 100_000, "realtime --max-channels for this run; left out, with a note, if the server lacks the flag")
	sc := scenario{optional: []string{"max-channels"}, run: func(env *load.Env, t *load.Target) (*load.Result, error) {
		r, out, err := load.ChanFlood(env, t, p)
		if err != nil {
			return nil, err
		}
		every := max(1, int(time.Second/max(p.Sample, time.Millisecond)))
		load.PrintRows(os.Stdout, "chanflood timeline (one row per second)", load.ChanFloodRows(out, every))
		return r, nil
	}}
	sc.serverArgsFn = func() []string { return []string{"--max-channels", fmt.Sprint(maxChannels)} }
	return sc
}
