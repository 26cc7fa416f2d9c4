package main

import (
	"errors"
	"strings"
	"time"

	"github.com/workkit/realtime/loadtest/load"
)

// clusterScenario binds the cluster run: Redis and several realtime nodes
// on it, subscribers spread over the nodes, optionally a node or Redis
// killed at half the events. With --peer memory each round also runs one
// node on the memory engine with the same subscribers and events.
func clusterScenario(o *options) scenario {
	p := load.ClusterParams{}
	var profOut string
	fs := o.fs
	fs.IntVar(&p.Nodes, "nodes", 3, "realtime nodes sharing the Redis")
	fs.IntVar(&p.Subscribers, "n", 3000, "subscribers, dealt to the nodes round-robin")
	fs.IntVar(&p.Channels, "channels", 1, "channels; every node gets its share of each")
	fs.IntVar(&p.Events, "events", 200, "events published per channel")
	fs.Float64Var(&p.Rate, "rate", 0, "events per second per channel (0: as fast as answered, one in flight per channel)")
	fs.IntVar(&p.Pad, "pad", 0, "filler bytes per event")
	fs.StringVar(&p.Kill, "kill", "", "at half the events: node (SIGKILL the last node) or redis (SIGKILL Redis, restart it empty after -redis-down)")
	fs.DurationVar(&p.RedisDown, "redis-down", 2*time.Second, "--kill redis: how long Redis stays down")
	fs.BoolVar(&p.RedisCluster, "redis-cluster", false, "a 3-master Redis Cluster instead of one redis-server")
	fs.BoolVar(&p.Memory, "memory", false, "no Redis: one node on the memory engine (the baseline; --peer memory runs it beside)")
	fs.IntVar(&p.ReplayBuffer, "replay-buffer", 0, "the nodes' --replay-buffer (0: -events + 10, the whole run)")
	fs.DurationVar(&p.Settle, "settle", 2*time.Second, "wait before each RSS reading")
	fs.DurationVar(&p.Profile, "profile", 0, "CPU profile of node 1 this long while publishing")
	fs.StringVar(&profOut, "profile-out", "cluster.pprof", "where the CPU profile goes")
	sc := scenario{peers: []string{"memory"}}
	sc.own = func(env *load.Env, kind string) (*load.Result, error) {
		if o.target != "" {
			return nil, errors.New("cluster starts its own nodes: --target does not apply")
		}
		q := p
		q.Bin, q.LogDir, q.ServerArgs = o.bin, o.logDir, strings.Fields(o.serverArgs)
		q.RedisCluster = q.RedisCluster || o.withRedis == "cluster"
		if kind == "memory" {
			q.Memory, q.Nodes, q.Kill, q.RedisCluster = true, 1, "", false
		}
		r, out, err := load.Cluster(env, q)
		if err == nil && out.Profile != nil {
			err = writeProfile(profOut, out.Profile, r)
		}
		return r, err
	}
	return sc
}
