package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// config is the planner's command line.
type config struct {
	args                      []string
	bin, target, admin, token string
	pid                       int
	sizes, fanouts            []int
	deliveries                int
	fanoutRate                float64
	hbStreams                 int
	hbTime                    time.Duration
	perWorker                 int
	out, svgDir, jsonOut      string
	logDir                    string
	tmpLogDir                 bool // logDir was made by prepare: removed after a successful run
	timeout                   time.Duration
	host                      Host
}

func parseFlags(args []string) (*config, error) {
	c := &config{args: args, host: Host{Cores: 16, Mem: 64 << 30, FDLimit: 1 << 20, Heartbeat: 30 * time.Second,
		EventRate: 10, Fanout: 10000, PayloadBytes: 200, ReplayBuffer: 50, CPUHeadroom: 0.7, MemHeadroom: 0.8,
		KernelPerConn: 4 << 10, Nodes: 1, RedisCores: 1}}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&c.bin, "bin", "", "realtime binary (default: go build into a temp dir)")
	fs.StringVar(&c.target, "target", "", "measure this running realtime instead (address)")
	fs.StringVar(&c.admin, "admin", "", "its admin address (pprof)")
	fs.IntVar(&c.pid, "pid", 0, "its PID (CPU and RSS)")
	fs.StringVar(&c.token, "token", "", "its bearer token")
	fs.Var(intList{&c.sizes}, "sizes", "idle stream counts to measure")
	fs.Var(intList{&c.fanouts}, "fanouts", "fan-out sizes to measure (the last one is profiled)")
	fs.IntVar(&c.deliveries, "deliveries", 1_000_000, "deliveries per fan-out size (events = this / fan-out, in [50, 3000], at most 15 s of publishing)")
	fs.Float64Var(&c.fanoutRate, "fanout-rate", -1, "events/s of the fan-out measurements (-1: the host's --event-rate; 0: as fast as possible)")
	fs.IntVar(&c.hbStreams, "hb-streams", 10_000, "idle streams for the heartbeat measurement")
	fs.DurationVar(&c.hbTime, "hb-time", 10*time.Second, "length of the heartbeat measurement")
	fs.IntVar(&c.perWorker, "per-worker", 5000, "subscriber connections per worker process")
	fs.StringVar(&c.out, "out", "", "Markdown report (default: docs/capacity.md of the module)")
	fs.StringVar(&c.svgDir, "svg-dir", "", "where the plots go (default: docs/ of the module)")
	fs.StringVar(&c.jsonOut, "json", "", "also write the measurements and plan as JSON")
	fs.StringVar(&c.logDir, "log-dir", "", "server logs (default: a temp dir)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Minute, "hard bound of the whole run")
	h := &c.host
	fs.Float64Var(&h.Cores, "cores", h.Cores, "target host: CPU cores for the server")
	fs.Var(byteSize{&h.Mem}, "mem", "target host: memory (e.g. 64GiB)")
	fs.IntVar(&h.FDLimit, "fd-limit", h.FDLimit, "target host: RLIMIT_NOFILE")
	fs.DurationVar(&h.Heartbeat, "heartbeat", h.Heartbeat, "target: --heartbeat")
	fs.Var(perSecond{&h.EventRate}, "event-rate", "target: events per second per channel (e.g. 10/s)")
	fs.IntVar(&h.Fanout, "fanout", h.Fanout, "target: subscribers per channel")
	fs.IntVar(&h.PayloadBytes, "payload", h.PayloadBytes, "target: bytes per framed event")
	fs.IntVar(&h.ReplayBuffer, "replay-buffer", h.ReplayBuffer, "target: --replay-buffer")
	fs.Float64Var(&h.CPUHeadroom, "cpu-headroom", h.CPUHeadroom, "share of the cores to plan for")
	fs.Float64Var(&h.MemHeadroom, "mem-headroom", h.MemHeadroom, "share of the memory to plan for")
	fs.Var(byteSize{&h.KernelPerConn}, "kernel-per-conn", "kernel socket memory per idle connection")
	fs.IntVar(&h.Nodes, "nodes", h.Nodes, "target: realtime nodes sharing one Redis (1: one node on the memory engine; more: the Redis costs are measured and planned too)")
	fs.Float64Var(&h.RedisCores, "redis-cores", h.RedisCores, "target: cores Redis may use (1 for one redis-server, which runs commands on one thread; one per master of a Redis Cluster)")
	c.sizes = []int{1000, 5000, 10000, 19000}
	c.fanouts = []int{100, 1000, 5000, 10000}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if len(c.sizes) == 0 || len(c.fanouts) == 0 {
		fmt.Fprintln(os.Stderr, "bench: --sizes and --fanouts must not be empty")
		return nil, flag.ErrHelp
	}
	if c.host.Nodes < 1 || c.host.RedisCores <= 0 {
		fmt.Fprintln(os.Stderr, "bench: --nodes must be at least 1 and --redis-cores positive")
		return nil, flag.ErrHelp
	}
	if c.host.Nodes > 1 && c.target != "" {
		fmt.Fprintln(os.Stderr, "bench: --nodes measures Redis with nodes it starts itself: not with --target")
		return nil, flag.ErrHelp
	}
	return c, nil
}

// intList is a comma-separated list of integers.
type intList struct{ v *[]int }

func (l intList) String() string {
	if l.v == nil {
		return ""
	}
	s := make([]string, len(*l.v))
	for i, n := range *l.v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (l intList) Set(s string) error {
	*l.v = nil
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return fmt.Errorf("want positive integers, got %q", f)
		}
		*l.v = append(*l.v, n)
	}
	return nil
}

// byteSize is a size with an optional KiB/MiB/GiB/TiB (or K/M/G/T) suffix.
type byteSize struct{ v *int64 }

func (b byteSize) String() string {
	if b.v == nil {
		return ""
	}
	return strconv.FormatInt(*b.v, 10)
}

func (b byteSize) Set(s string) error {
	n, err := parseBytes(s)
	if err == nil {
		*b.v = n
	}
	return err
}

func parseBytes(s string) (int64, error) {
	num, mult := s, int64(1)
	for i, unit := range []string{"T", "G", "M", "K"} {
		if rest, ok := cutUnit(s, unit); ok {
			num, mult = rest, int64(1)<<(10*(4-i))
			break
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(f * float64(mult)), nil
}

// cutUnit removes unit+"iB", unit+"B" or unit from the end of s.
func cutUnit(s, unit string) (string, bool) {
	for _, form := range []string{unit + "iB", unit + "B", unit} {
		if rest, ok := strings.CutSuffix(s, form); ok {
			return rest, true
		}
	}
	return s, false
}

// perSecond is a rate written "10/s", "600/m" or "10".
type perSecond struct{ v *float64 }

func (p perSecond) String() string {
	if p.v == nil {
		return ""
	}
	return strconv.FormatFloat(*p.v, 'g', -1, 64) + "/s"
}

func (p perSecond) Set(s string) error {
	div := 1.0
	switch {
	case strings.HasSuffix(s, "/s"):
		s = strings.TrimSuffix(s, "/s")
	case strings.HasSuffix(s, "/m"):
		s, div = strings.TrimSuffix(s, "/m"), 60
	case strings.HasSuffix(s, "/h"):
		s, div = strings.TrimSuffix(s, "/h"), 3600
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return fmt.Errorf("bad rate %q", s)
	}
	*p.v = f / div
	return nil
}
