package broker_test

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"

	"github.com/workkit/realtime/broker"
	"github.com/workkit/realtime/channel"
	"github.com/workkit/realtime/internal/redisproc"
	"github.com/workkit/realtime/internal/rrproxy"
	"github.com/workkit/realtime/redisengine"
)

// The behaviour suite of this package runs against one topology per run,
// named by REALTIME_TEST_TOPOLOGY (make test runs all four):
//
//	memory    one node, the embedded memory engine (the default)
//	redis     one node on one Redis
//	redis3    three nodes on one Redis behind a round-robin proxy
//	cluster3  three nodes on a three-master Redis Cluster behind a round-robin proxy
//
// The Redis servers are started once for the run (TestMain); every test's
// server uses a key prefix of its own.
type topology struct {
	name  string
	nodes int
	url   func() string // the Redis URL; nil for the memory engine
}

var topologies = map[string]topology{
	"memory":   {name: "memory", nodes: 1},
	"redis":    {name: "redis", nodes: 1, url: func() string { return sharedRedis.URL() }},
	"redis3":   {name: "redis3", nodes: 3, url: func() string { return sharedRedis.URL() }},
	"cluster3": {name: "cluster3", nodes: 3, url: func() string { return sharedCluster.URL() }},
}

var (
	suite         topology
	sharedRedis   *redisproc.Server
	sharedCluster *redisproc.Cluster
	prefixes      atomic.Int64
)

func TestMain(m *testing.M) {
	name := os.Getenv("REALTIME_TEST_TOPOLOGY")
	if name == "" {
		name = "memory"
	}
	var ok bool
	if suite, ok = topologies[name]; !ok {
		fmt.Fprintf(os.Stderr, "REALTIME_TEST_TOPOLOGY=%q: want memory, redis, redis3 or cluster3\n", name)
		os.Exit(2)
	}
	var err error
	switch name {
	case "redis", "redis3":
		sharedRedis, err = redisproc.Start(redisproc.Options{})
	case "cluster3":
		sharedCluster, err = redisproc.StartCluster(3, redisproc.Options{})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "broker tests on", name+":", err) // a missing redis-server fails the run, never skips it
		os.Exit(1)
	}
	code := m.Run()
	if sharedRedis != nil {
		_ = sharedRedis.Stop()
	}
	if sharedCluster != nil {
		_ = sharedCluster.Stop()
	}
	os.Exit(code)
}

// suiteTopology returns the topology of this run.
func suiteTopology(testing.TB) topology { return suite }

// engine returns the engines of a server with cfg: nil (the memory
// engine), or one Redis engine per node sharing a key prefix.
func (tp topology) engines(t testing.TB, cfg broker.Config) []channel.Engine {
	t.Helper()
	engines := make([]channel.Engine, tp.nodes)
	if tp.url == nil {
		return engines
	}
	rc := redisengine.DefaultConfig()
	rc.URL, rc.Timeout, rc.Channel = tp.url(), cfg.RedisTimeout, cfg.Channel
	rc.Prefix = fmt.Sprintf("t%d:", prefixes.Add(1))
	for i := range engines {
		e, err := redisengine.New(rc, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		engines[i] = e
	}
	return engines
}

// front returns the address clients dial: the node's own, or a
// round-robin proxy's in front of several.
func (tp topology) front(t testing.TB, addrs []string) string {
	t.Helper()
	if len(addrs) == 1 {
		return addrs[0]
	}
	p, err := rrproxy.New("127.0.0.1:0", addrs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p.Addr()
}
