package broker_test

import (
	"testing"

	"github.com/workkit/realtime/broker"
	"github.com/workkit/realtime/channel"
)

// topology is what the behaviour suite runs against: every test of this
// package starts its server through it.
type topology struct {
	name  string
	nodes int
	// engine returns the engine of node i of a server with cfg; nil is the
	// memory engine.
	engine func(t testing.TB, cfg broker.Config, i int) channel.Engine
	// front returns the address clients dial for nodes at addrs.
	front func(t testing.TB, addrs []string) string
}

// memoryTopology is one node on the embedded memory engine.
var memoryTopology = topology{
	name:   "memory",
	nodes:  1,
	engine: func(testing.TB, broker.Config, int) channel.Engine { return nil },
	front:  func(_ testing.TB, addrs []string) string { return addrs[0] },
}

// suiteTopology returns the topology of this run.
func suiteTopology(testing.TB) topology { return memoryTopology }
