package main

import (
	"fmt"
	"os"
	"time"

	"github.com/workkit/realtime/loadtest/load"
)

func idleScenario(o *options) scenario {
	p := load.IdleParams{}
	o.fs.IntVar(&p.Streams, "n", 10_000, "idle streams (up to ~19,000 against one server)")
	o.fs.IntVar(&p.Channels, "channels", 1, "channels the streams are spread over")
	o.fs.DurationVar(&p.Settle, "settle", 2*time.Second, "wait before each measurement")
	return scenario{nchanOK: true, run: func(env *load.Env, t *load.Target) (*load.Result, error) {
		r, _, err := load.Idle(env, t, p)
		return r, err
	}}
}

func fanoutScenario(o *options) scenario {
	p := load.FanoutParams{}
	var profOut string
	o.fs.IntVar(&p.Subscribers, "n", 10_000, "subscribers (one channel)")
	o.fs.IntVar(&p.Events, "events", 200, "events published")
	o.fs.Float64Var(&p.Rate, "rate", 0, "events per second (0: as fast as --window allows)")
	o.fs.IntVar(&p.Window, "window", 1, "publishes in flight")
	o.fs.IntVar(&p.Pad, "pad", 0, "filler bytes per event")
	o.fs.DurationVar(&p.Profile, "profile", 0, "realtime: collect a CPU profile this long while publishing")
	o.fs.StringVar(&profOut, "profile-out", "fanout.pprof", "where the CPU profile goes")
	return scenario{nchanOK: true, run: func(env *load.Env, t *load.Target) (*load.Result, error) {
		r, out, err := load.Fanout(env, t, p)
		if err == nil && out.Profile != nil {
			err = writeProfile(profOut, out.Profile, r)
		}
		return r, err
	}}
}

func floodScenario(o *options) scenario {
	p := load.FloodParams{}
	o.fs.IntVar(&p.Conns, "conns", 4, "publishing connections")
	o.fs.IntVar(&p.Window, "window", 32, "pipelined publishes per connection")
	o.fs.DurationVar(&p.Duration, "duration", 5*time.Second, "how long to publish")
	o.fs.IntVar(&p.Batch, "batch", 0, "events per request with POST /publish (batch); 0: single publishes")
	o.fs.IntVar(&p.Pad, "pad", 0, "filler bytes per event")
	o.fs.Float64Var(&p.Rate, "rate", 0, "requests per second over all connections, evenly paced (0: as fast as answered)")
	o.fs.DurationVar(&p.Profile, "profile", 0, "realtime: collect a CPU profile this long from the start of the flood")
	var profOut string
	o.fs.StringVar(&profOut, "profile-out", "flood.pprof", "where the CPU profile goes")
	return scenario{nchanOK: true, run: func(env *load.Env, t *load.Target) (*load.Result, error) {
		r, prof, err := load.FloodProfiled(env, t, p)
		if err == nil && prof != nil {
			err = writeProfile(profOut, prof, r)
		}
		return r, err
	}}
}

func churnScenario(o *options) scenario {
	p := load.ChurnParams{}
	var replay int
	o.fs.IntVar(&p.Clients, "n", 1000, "clients on one channel")
	o.fs.IntVar(&p.Events, "events", 10_000, "events published")
	o.fs.Float64Var(&p.Rate, "rate", 200, "events per second")
	o.fs.Float64Var(&p.Drops, "drops", 5, "average drops per client")
	o.fs.DurationVar(&p.MaxDown, "max-down", 100*time.Millisecond, "longest time a client stays away")
	o.fs.Uint64Var(&p.Seed, "seed", 1, "random seed of the drops")
	o.fs.IntVar(&replay, "replay-buffer", 0, "realtime --replay-buffer for this run (0: the server's default, 50, like the nchan peer's buffer)")
	sc := scenario{nchanOK: true, run: func(env *load.Env, t *load.Target) (*load.Result, error) {
		r, _, err := load.Churn(env, t, p)
		return r, err
	}}
	sc.serverArgsFn = func() []string {
		if replay > 0 {
			return []string{"--replay-buffer", fmt.Sprint(replay)}
		}
		return nil
	}
	return sc
}

func slowScenario(o *options) scenario {
	p := load.SlowParams{}
	var pending int
	o.fs.IntVar(&p.Subscribers, "n", 1000, "subscribers on one channel")
	o.fs.Float64Var(&p.SlowShare, "slow-share", 0.1, "share of subscribers that stop reading")
	o.fs.IntVar(&p.Events, "events", 1000, "events published")
	o.fs.Float64Var(&p.Rate, "rate", 100, "events per second")
	o.fs.IntVar(&p.Pad, "pad", 1024, "filler bytes per event")
	o.fs.IntVar(&p.RcvBuf, "rcvbuf", 4096, "SO_RCVBUF of the stalled subscribers")
	o.fs.IntVar(&pending, "max-pending-bytes", 256<<10, "realtime --max-pending-bytes for this run")
	sc := scenario{nchanOK: true, run: func(env *load.Env, t *load.Target) (*load.Result, error) {
		return load.Slow(env, t, p)
	}}
	sc.serverArgsFn = func() []string { return []string{"--max-pending-bytes", fmt.Sprint(pending)} }
	return sc
}

func badScenario(o *options) scenario {
	p := load.BadParams{}
	o.fs.IntVar(&p.Subscribers, "n", 1000, "good subscribers")
	o.fs.IntVar(&p.Events, "events", 1000, "events published to them")
	o.fs.Float64Var(&p.Rate, "rate", 100, "events per second")
	o.fs.IntVar(&p.Attackers, "attackers", 4, "goroutines per kind of bad request")
	return scenario{nchanOK: true, run: func(env *load.Env, t *load.Target) (*load.Result, error) {
		return load.BadInput(env, t, p)
	}}
}

// writeProfile saves a CPU profile and notes where it went.
func writeProfile(path string, prof []byte, r *load.Result) error {
	if err := os.WriteFile(path, prof, 0o644); err != nil {
		return err
	}
	r.Notef("CPU profile written to %s (go tool pprof -top %s)", path, path)
	return nil
}
