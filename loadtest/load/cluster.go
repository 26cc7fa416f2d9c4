package load

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Faults the cluster run can inject at half the events.
const (
	KillNode  = "node"  // SIGKILL the last node; its subscribers move to the others
	KillRedis = "redis" // SIGKILL Redis, restart it empty after ClusterParams.RedisDown
)

// ClusterParams shapes a cluster run: Nodes realtime nodes sharing one
// Redis (or a 3-master Redis Cluster), Subscribers spread over them
// round-robin by subscriber index and over Channels, Events published on
// every channel at Rate per second per channel (0: as fast as answered)
// through the nodes in turn, and optionally a fault at half the events.
// With Memory there is no Redis: one node on the memory engine, the
// baseline the Redis figures compare with.
type ClusterParams struct {
	Nodes        int
	Subscribers  int
	Channels     int
	Events       int
	Rate         float64
	Pad          int
	Kill         string        // "", KillNode or KillRedis
	RedisDown    time.Duration // KillRedis: how long Redis stays down
	RedisCluster bool
	Memory       bool
	ReplayBuffer int           // the nodes' --replay-buffer; 0: Events + 10 (the whole run)
	Settle       time.Duration // wait before each RSS reading
	Profile      time.Duration // CPU profile of node 0 this long while publishing; 0: none
	Bin, LogDir  string
	ServerArgs   []string // every node's extra flags (win over the run's own)
}

// Validate reports parameters the run cannot honour.
func (p ClusterParams) Validate() error {
	switch {
	case p.Nodes < 1 || p.Subscribers < 1 || p.Channels < 1 || p.Events < 2:
		return errors.New("load: cluster needs --nodes, -n and -channels of at least 1 and -events of at least 2")
	case p.Memory && (p.Nodes != 1 || p.Kill != "" || p.RedisCluster):
		return errors.New("load: the memory engine runs one node, without faults or a Redis Cluster")
	case p.Kill == KillNode && p.Nodes < 2:
		return errors.New("load: --kill node needs at least 2 nodes (its subscribers move to another)")
	case p.Kill == KillRedis && p.Rate <= 0:
		return errors.New("load: --kill redis needs a -rate (as fast as answered, every publish after the kill would be a 503 at once)")
	case p.Kill != "" && p.Kill != KillNode && p.Kill != KillRedis:
		return fmt.Errorf("load: --kill %q: want node or redis", p.Kill)
	case p.Kill == KillRedis && p.RedisDown <= 0:
		return errors.New("load: --kill redis needs a positive -redis-down")
	}
	return nil
}

// Name labels the run's column: "redis:N", "cluster:N" (Redis Cluster) or
// "memory:1".
func (p ClusterParams) Name() string {
	switch {
	case p.Memory:
		return "memory:1"
	case p.RedisCluster:
		return "cluster:" + strconv.Itoa(p.Nodes)
	}
	return "redis:" + strconv.Itoa(p.Nodes)
}

// replayBuffer is the nodes' --replay-buffer.
func (p ClusterParams) replayBuffer() int {
	if p.ReplayBuffer > 0 {
		return p.ReplayBuffer
	}
	return p.Events + 10
}

// nodeArgs are the flags every node gets.
func (p ClusterParams) nodeArgs() []string {
	a := []string{"--max-subscribers-per-channel", strconv.Itoa(p.Subscribers + 100),
		"--replay-buffer", strconv.Itoa(p.replayBuffer())}
	return append(a, p.ServerArgs...)
}

// Cluster starts Redis and the nodes, runs the scenario and ends every
// process it started, by PID.
func Cluster(env *Env, p ClusterParams) (*Result, *ClusterOutcome, error) {
	if err := p.Validate(); err != nil {
		return nil, nil, err
	}
	c := &clusterRun{env: env, p: p}
	defer c.stop()
	if err := c.start(); err != nil {
		return nil, nil, err
	}
	out, err := c.run()
	if err != nil {
		return nil, nil, err
	}
	res := &Result{Scenario: "cluster", Target: p.Name(), Details: out}
	clusterMetrics(res, out, p)
	c.notes(res)
	return res, out, nil
}

// clusterRun is one run of the cluster scenario: what it started.
type clusterRun struct {
	env   *Env
	p     ClusterParams
	redis *Redis
	nodes []*Server
	chans []string
}

// start starts Redis (unless Memory) and the nodes.
func (c *clusterRun) start() error {
	p := c.p
	url := ""
	if !p.Memory {
		var err error
		if c.redis, err = StartRedis(p.RedisCluster, p.LogDir); err != nil {
			return err
		}
		url = c.redis.URL()
	}
	if url == "" {
		c.env.logf("%s: starting 1 node on the memory engine", p.Name())
	} else {
		c.env.logf("%s: starting %d nodes on %s", p.Name(), p.Nodes, url)
	}
	var err error
	c.nodes, err = StartNodes(NodesOptions{Bin: p.Bin, LogDir: p.LogDir, N: p.Nodes, Redis: url, Args: p.nodeArgs()})
	tag := randomHex(4)
	for i := range p.Channels {
		c.chans = append(c.chans, fmt.Sprintf("cluster-%s-%d", tag, i))
	}
	return err
}

// stop ends the nodes, then Redis.
func (c *clusterRun) stop() {
	if err := StopNodes(c.nodes); err != nil {
		c.env.logf("cluster: stop nodes: %v", err)
	}
	if c.redis != nil {
		if err := c.redis.Stop(); err != nil {
			c.env.logf("cluster: stop redis: %v", err)
		}
	}
}

// targets returns the nodes' targets.
func (c *clusterRun) targets() []*Target {
	ts := make([]*Target, len(c.nodes))
	for i, s := range c.nodes {
		ts[i] = &s.Target
	}
	return ts
}

// spec is the subscribers' OpenSpec: every node's address, round-robin.
func (c *clusterRun) spec(n int, mode string) OpenSpec {
	addrs := make([]string, len(c.nodes))
	for i, s := range c.nodes {
		addrs[i] = s.Target.Addr
	}
	return OpenSpec{Target: c.nodes[0].Target, Channels: c.chans, N: n, Mode: mode, Events: c.p.Events, Addrs: addrs}
}

// notes adds what the reader of the table must know.
func (c *clusterRun) notes(res *Result) {
	if c.redis != nil {
		res.Notef("every node runs with --redis on a %s started for the round", c.redis.Name())
	}
	res.Notef("nodes, Redis and the loader share this machine's %d cores; total CPU is every node's and Redis's, from /proc (10 ms resolution)", numCPU())
	if c.p.Kill != "" {
		res.Notef("latency includes the events replayed to moved or reset subscribers")
	}
}
