package load

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// NodesOptions says how to start the realtime nodes of a cluster run.
type NodesOptions struct {
	Bin    string
	LogDir string
	N      int
	Redis  string   // --redis URL; empty: the memory engine (then N must be 1)
	Args   []string // every node's flags (after the tool's own)
	Secret string   // the nodes' JWT secret; empty: a random one
}

// StartNodes starts o.N realtime nodes at once, each on its own ports,
// sharing one JWT secret (so one token serves them all) and o.Redis, and
// waits until every one answers /readyz (its engine can serve). On error
// it stops those that started.
func StartNodes(o NodesOptions) ([]*Server, error) {
	if o.Redis == "" && o.N != 1 {
		return nil, fmt.Errorf("load: %d nodes without Redis would not share their channels", o.N)
	}
	args := append([]string(nil), o.Args...)
	if o.Redis != "" {
		args = append([]string{"--redis", o.Redis}, args...)
	}
	secret := o.Secret
	if secret == "" {
		secret = randomHex(16)
	}
	nodes := make([]*Server, o.N)
	errs := make([]error, o.N)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			nodes[i], errs[i] = StartRealtime(RealtimeOptions{Bin: o.Bin, Args: args, LogDir: o.LogDir, Secret: secret})
			if errs[i] == nil {
				errs[i] = WaitReady(&nodes[i].Target, 15*time.Second)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		StopNodes(nodes)
		return nil, err
	}
	return nodes, nil
}

// StopNodes stops every node that runs (Stop: SIGTERM, then KILL), each by
// its PID, all at once, and returns the first error.
func StopNodes(nodes []*Server) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, s := range nodes {
		if s != nil {
			wg.Go(func() { errs[i] = s.Stop() })
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// WaitReady polls t's /readyz until it answers 200 (a node on Redis is
// connected and subscribed) or d passes.
func WaitReady(t *Target, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		p, err := DialPublisher(t)
		if err == nil {
			var st int
			st, _, err = p.get("/readyz")
			p.Close()
			if err == nil && st == 200 {
				return nil
			}
			if err == nil {
				err = fmt.Errorf("load: %s/readyz answered %d", t.Addr, st)
			}
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// nodeSlots returns one CPU slot per node (a killed node has no process)
// and one for redis (nil without it).
func nodeSlots(nodes []*Server, redis *Redis) (slots []*cpuSlot, redisSlot *cpuSlot) {
	for _, s := range nodes {
		slots = append(slots, newCPUSlot(func() []int {
			if s.Alive() {
				return s.Target.PIDs
			}
			return nil
		}))
	}
	if redis != nil {
		redisSlot = newCPUSlot(redis.PIDs)
	}
	return slots, redisSlot
}
