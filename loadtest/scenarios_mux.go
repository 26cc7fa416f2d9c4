package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/workkit/realtime/loadtest/load"
)

// multiplexScenario binds the multiplex run: N multiplexed streams of K
// channels each drawn from a pool, events on random channels of the pool,
// every channel of every stream checked. --peer single (or single-hot)
// runs the same channels as plain single-channel streams beside it, in
// alternating rounds, and prints the ratio.
func multiplexScenario(o *options) scenario {
	p := load.MultiplexParams{}
	var profOut string
	fs := o.fs
	fs.IntVar(&p.Streams, "n", 1000, "multiplexed streams")
	fs.IntVar(&p.K, "k", 4, "channels per stream (at most the server's --max-stream-channels, 32)")
	fs.IntVar(&p.Channels, "channels", 64, "size of the channel pool the K of each stream are drawn from")
	fs.IntVar(&p.Hot, "hot", 0, "publish on the first H channels of the pool only, and put them in every stream (0: events on any channel of the pool)")
	fs.IntVar(&p.Events, "events", 500, "events published, each on a random channel of the pool (or of the hot ones)")
	fs.Float64Var(&p.Rate, "rate", 0, "events per second (0: as fast as --window allows)")
	fs.IntVar(&p.Window, "window", 1, "publishes in flight")
	fs.IntVar(&p.Pad, "pad", 0, "filler bytes per event")
	fs.Uint64Var(&p.Seed, "seed", 1, "random seed of the channel sets and of the events' channels")
	fs.DurationVar(&p.Settle, "settle", 2*time.Second, "wait before each memory reading")
	fs.DurationVar(&p.Profile, "profile", 0, "realtime: collect a CPU profile this long while publishing")
	fs.StringVar(&profOut, "profile-out", "multiplex.pprof", "where the CPU profile goes (the single baseline's gets .single before the extension)")
	runKind := func(env *load.Env, t *load.Target, kind string) (*load.Result, error) {
		q := p
		q.Single, q.SingleHot = kind != "realtime", kind == "single-hot"
		r, out, err := load.Multiplex(env, t, q)
		if err == nil && out.Profile != nil {
			path := profOut
			if q.Single {
				ext := filepath.Ext(path)
				path = path[:len(path)-len(ext)] + ".single" + ext
			}
			err = writeProfile(path, out.Profile, r)
		}
		return r, err
	}
	sc := scenario{peers: []string{"single", "single-hot"}}
	sc.serverArgsFn = func() []string {
		// every channel may hold every stream
		return []string{"--max-subscribers-per-channel", fmt.Sprint(max(p.Streams+100, 20000))}
	}
	sc.run = func(env *load.Env, t *load.Target) (*load.Result, error) { return runKind(env, t, "realtime") }
	sc.own = func(env *load.Env, kind string) (*load.Result, error) {
		return o.onRealtime(sc, env, func(env *load.Env, t *load.Target) (*load.Result, error) { return runKind(env, t, kind) })
	}
	return sc
}

// revokeScenario binds the revoke run: M streams of one principal, then
// POST /disconnect of that principal; it starts its own nodes (it mints
// the principal's tokens with their secret).
func revokeScenario(o *options) scenario {
	p := load.RevokeParams{}
	fs := o.fs
	fs.IntVar(&p.Streams, "n", 10_000, "streams of the revoked principal")
	fs.IntVar(&p.Channels, "channels", 1, "channels the streams are spread over (single streams), or the pool of -k")
	fs.IntVar(&p.K, "k", 0, "0: plain GET /sse/{ch} streams; K > 0: multiplexed streams of K channels of the pool (each gets K realtime.closed frames)")
	fs.IntVar(&p.Bystanders, "bystanders", 100, "streams of another principal on the same channels: they must stay open")
	fs.IntVar(&p.Nodes, "nodes", 1, "realtime nodes (more than 1 needs --with-redis); streams dealt round-robin, the POST goes to the first")
	fs.DurationVar(&p.Settle, "settle", time.Second, "wait after the streams opened, before the POST")
	fs.DurationVar(&p.Wait, "wait", time.Minute, "longest wait for every stream to end after the POST")
	fs.DurationVar(&p.Profile, "profile", 0, "CPU profile of node 1 this long from just before the POST")
	var profOut string
	fs.StringVar(&profOut, "profile-out", "revoke.pprof", "where the CPU profile goes")
	sc := scenario{}
	sc.own = func(env *load.Env, _ string) (*load.Result, error) {
		if o.target != "" {
			return nil, fmt.Errorf("revoke starts its own nodes (it mints tokens with their secret): --target does not apply")
		}
		q := p
		q.Bin, q.LogDir, q.Redis = o.bin, o.logDir, o.withRedis
		q.ServerArgs = strings.Fields(o.serverArgs)
		r, out, err := load.Revoke(env, q)
		if err == nil && out.Profile != nil {
			err = writeProfile(profOut, out.Profile, r)
		}
		return r, err
	}
	return sc
}

// onRealtime runs fn on a realtime started for it (as once does: the
// scenario's flags, --with-redis, --server-args), or on --target.
func (o *options) onRealtime(sc scenario, env *load.Env, fn func(env *load.Env, t *load.Target) (*load.Result, error)) (*load.Result, error) {
	if o.target != "" {
		t := load.Target{Name: "realtime", Dialect: load.Realtime, Addr: o.target, Admin: o.admin, Token: o.token}
		if o.pid > 0 {
			t.PIDs = []int{o.pid}
		}
		return fn(env, &t)
	}
	srv, dropped, stopRedis, err := o.startRealtimeOnRedis(sc)
	defer stopRedis()
	if err != nil {
		return nil, err
	}
	res, err := fn(env, &srv.Target)
	if res != nil && dropped != "" {
		res.Notef("this realtime does not know --%s: ran without it", dropped)
	}
	if !srv.Alive() && res != nil {
		res.Notef("SERVER DIED during the run (log in %s)", o.logDir)
	}
	if serr := srv.Stop(); serr != nil && res != nil {
		res.Notef("stop: %v", serr)
	}
	return res, err
}
