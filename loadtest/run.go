package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/workkit/realtime/loadtest/load"
)

// scenario is one scenario bound to its parsed flags.
type scenario struct {
	run          func(env *load.Env, t *load.Target) (*load.Result, error)
	serverArgsFn func() []string // realtime flags the scenario needs (e.g. a small --max-pending-bytes); may be nil
	optional     []string        // flags of serverArgsFn an older realtime may lack: left out, with a note, when it rejects them
	nchanOK      bool            // the scenario makes sense against nchan
	// own, when set, runs a round of the scenario that starts (and ends)
	// its servers itself, for the column kind ("realtime" or one of peers).
	own   func(env *load.Env, kind string) (*load.Result, error)
	peers []string // --peer values own accepts besides nchan
}

// options are the flags every scenario shares.
type options struct {
	fs         *flag.FlagSet
	bin        string
	target     string
	admin      string
	pid        int
	token      string
	peer       string
	rounds     int
	jsonOut    string
	perWorker  int
	serverArgs string
	logDir     string
	timeout    time.Duration
	nchanSh    string
	withRedis  string // "", "single" or "cluster": each round's realtime runs on a Redis started for it
	tmpLogDir  bool   // logDir was made by prepare: removed after a successful run
}

func bindCommon(fs *flag.FlagSet) *options {
	o := &options{fs: fs}
	fs.StringVar(&o.bin, "bin", "", "realtime binary (default: go build into a temp dir)")
	fs.StringVar(&o.target, "target", "", "address of a running realtime instead of starting one")
	fs.StringVar(&o.admin, "admin", "", "its admin address (with --target)")
	fs.IntVar(&o.pid, "pid", 0, "its PID, for CPU and RSS (with --target)")
	fs.StringVar(&o.token, "token", "", "bearer token for it (with --target)")
	fs.StringVar(&o.peer, "peer", "", "also run against this peer: nchan (most scenarios) or memory (cluster: one node on the memory engine)")
	fs.IntVar(&o.rounds, "rounds", 1, "runs per server; with several, metrics are medians")
	fs.StringVar(&o.jsonOut, "json", "", "write the results as JSON to this file")
	fs.IntVar(&o.perWorker, "per-worker", 5000, "subscriber connections per worker process")
	fs.StringVar(&o.serverArgs, "server-args", "", "extra realtime flags, space-separated")
	fs.StringVar(&o.logDir, "log-dir", "", "server logs and nchan prefix dir (default: a temp dir)")
	fs.StringVar(&o.nchanSh, "nchan-script", "", "path of loadtest/peers/nchan.sh (default: found from the module root)")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "hard bound of the whole run; workers exit by then")
	fs.StringVar(&o.withRedis, "with-redis", "", "single or cluster: start a redis-server (or a 3-master Redis Cluster) for each round and run realtime with --redis on it; its CPU is reported apart")
	return o
}

// run parses the flags of scenario name and runs it rounds times on each
// server, alternating their order.
func run(name string, args []string) int {
	fs := flag.NewFlagSet("loadtest "+name, flag.ContinueOnError)
	o := bindCommon(fs)
	sc := scenarios[name](o)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := o.prepare(); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		return 1
	}
	env := &load.Env{PerWorker: o.perWorker, Deadline: time.Now().Add(o.timeout), Log: os.Stderr}
	kinds := []string{"realtime"}
	if (o.peer == "nchan" && sc.nchanOK) || (o.peer != "" && slices.Contains(sc.peers, o.peer)) {
		kinds = append(kinds, o.peer)
	} else if o.peer != "" {
		fmt.Fprintf(os.Stderr, "loadtest: peer %q not available for %s\n", o.peer, name)
	}
	runs := map[string][]*load.Result{}
	for r := range o.rounds {
		for i := range kinds {
			k := kinds[(i+r)%len(kinds)]
			res, err := o.once(k, sc, env)
			if err != nil {
				fmt.Fprintf(os.Stderr, "loadtest: %s round %d on %s: %v (logs in %s)\n", name, r+1, k, err, o.logDir)
				return 1
			}
			runs[k] = append(runs[k], res)
			if o.rounds == 1 {
				continue
			}
			load.PrintTable(os.Stdout, fmt.Sprintf("%s, round %d, %s", name, r+1, k), []*load.Result{res})
		}
	}
	var final []*load.Result
	for _, k := range kinds {
		final = append(final, load.MedianResult(runs[k]))
	}
	title := name
	if o.rounds > 1 {
		title = fmt.Sprintf("%s: medians of %d rounds", name, o.rounds)
	}
	load.PrintTable(os.Stdout, title, final)
	code := o.writeJSON(name, args, runs, final)
	for _, r := range final {
		if r.Failed {
			fmt.Fprintf(os.Stderr, "loadtest: %s on %s: the run's verdict is FAIL (see its notes)\n", name, r.Target)
			code = 1
		}
	}
	if code == 0 && o.tmpLogDir {
		_ = os.RemoveAll(o.logDir)
	}
	return code
}

// prepare builds realtime when needed and makes the log directory.
func (o *options) prepare() error {
	if o.logDir == "" {
		d, err := os.MkdirTemp("", "loadtest-")
		if err != nil {
			return err
		}
		o.logDir, o.tmpLogDir = d, true
	}
	if o.bin == "" && o.target == "" {
		o.bin = filepath.Join(o.logDir, "realtime")
		fmt.Fprintln(os.Stderr, "loadtest: building realtime into", o.bin)
		return load.BuildRealtime(o.bin)
	}
	return nil
}

// once starts the server of kind, runs the scenario on it, and stops it.
func (o *options) once(kind string, sc scenario, env *load.Env) (*load.Result, error) {
	var srv *load.Server
	var err error
	var dropped string // an optional scenario flag this realtime does not know
	if sc.own != nil {
		return sc.own(env, kind)
	}
	switch {
	case kind == "nchan":
		script, err2 := o.peerScript()
		if err2 != nil {
			return nil, err2
		}
		srv, err = load.StartNchan(script, filepath.Join(o.logDir, "nchan"))
	case o.target != "":
		t := load.Target{Name: "realtime", Dialect: load.Realtime, Addr: o.target, Admin: o.admin, Token: o.token}
		if o.pid > 0 {
			t.PIDs = []int{o.pid}
		}
		return sc.run(env, &t)
	default:
		var stopRedis func()
		srv, dropped, stopRedis, err = o.startRealtimeOnRedis(sc)
		defer stopRedis()
	}
	if err != nil {
		return nil, err
	}
	res, err := sc.run(env, &srv.Target)
	if res != nil && dropped != "" {
		res.Notef("this realtime does not know --%s: ran without it (the behaviour before the flag)", dropped)
	}
	if !srv.Alive() {
		if res != nil {
			res.Notef("SERVER DIED during the run (log in %s)", o.logDir)
		}
	}
	if serr := srv.Stop(); serr != nil && res != nil {
		res.Notef("stop: %v", serr)
	}
	return res, err
}

// startRealtime starts realtime with the scenario's flags, pre (the
// run's own) and --server-args. When it exits on an unknown flag that the
// scenario marks optional, it is started again without that flag, which
// is returned.
func (o *options) startRealtime(sc scenario, pre []string) (*load.Server, string, error) {
	own := pre
	if sc.serverArgsFn != nil {
		own = append(append([]string(nil), pre...), sc.serverArgsFn()...)
	}
	extra := strings.Fields(o.serverArgs)
	args := append(append([]string(nil), own...), extra...) // --server-args wins
	srv, err := load.StartRealtime(load.RealtimeOptions{Bin: o.bin, Args: args, LogDir: o.logDir})
	var se *load.StartError
	if !errors.As(err, &se) || se.UnknownFlag == "" || !slices.Contains(sc.optional, se.UnknownFlag) {
		return srv, "", err
	}
	fmt.Fprintf(os.Stderr, "loadtest: %v; starting it without --%s\n", err, se.UnknownFlag)
	args = append(dropFlag(own, se.UnknownFlag), extra...)
	srv, err = load.StartRealtime(load.RealtimeOptions{Bin: o.bin, Args: args, LogDir: o.logDir})
	return srv, se.UnknownFlag, err
}

// dropFlag removes --name (or -name) and its value, or --name=value, from
// args.
func dropFlag(args []string, name string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		switch {
		case a == name:
			i++ // its value
		case strings.HasPrefix(a, name+"="):
		default:
			out = append(out, args[i])
		}
	}
	return out
}

// peerScript finds loadtest/peers/nchan.sh in the module.
func (o *options) peerScript() (string, error) {
	if o.nchanSh != "" {
		return o.nchanSh, nil
	}
	root, err := load.ModuleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "loadtest", "peers", "nchan.sh"), nil
}

func (o *options) writeJSON(name string, args []string, runs map[string][]*load.Result, final []*load.Result) int {
	if o.jsonOut == "" {
		return 0
	}
	doc := map[string]any{"scenario": name, "args": args, "rounds": runs, "result": final,
		"time": time.Now().UTC().Format(time.RFC3339)}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err == nil {
		err = os.WriteFile(o.jsonOut, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest: --json:", err)
		return 1
	}
	return 0
}
