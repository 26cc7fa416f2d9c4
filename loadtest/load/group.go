package load

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// Env is what every scenario needs besides its own parameters.
type Env struct {
	PerWorker int       // subscribers per worker process; 0: 5000
	Deadline  time.Time // workers exit by then whatever happens
	Log       io.Writer // progress lines; nil: discarded
}

func (e *Env) logf(format string, args ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, format+"\n", args...)
	}
}

// srcNext rotates loopback source addresses over all groups of a process.
var srcNext atomic.Int64

// Group is a set of subscribers spread over fresh worker processes. Used
// from one goroutine.
type Group struct {
	pool   *Pool
	Opened int      // subscriptions open after OpenGroup
	Failed int      // subscriptions that failed to open
	Errors []string // the first few failures
}

// OpenGroup starts workers and opens spec.N subscriptions over them.
func OpenGroup(env *Env, spec OpenSpec) (*Group, error) { return openGroup(env, spec, nil) }

// openGroup is OpenGroup; each, when not nil, adjusts each worker's share
// of spec (its N and First set) before it is sent.
func openGroup(env *Env, spec OpenSpec, each func(s *OpenSpec)) (*Group, error) {
	per := env.PerWorker
	if per <= 0 {
		per = 5000
	}
	counts := Split(spec.N, per)
	pool, err := StartPool(len(counts), env.Deadline)
	if err != nil {
		return nil, err
	}
	cmds := make([]*Cmd, len(counts))
	first := spec.First
	for i, n := range counts {
		s := spec
		s.N, s.First = n, first
		first += n
		s.Src = SourceAddr(int(srcNext.Add(1)-1) % 200)
		s.Churn.Seed = spec.Churn.Seed + uint64(i)*7919
		if each != nil {
			each(&s)
		}
		cmds[i] = &Cmd{Op: "open", Open: &s}
	}
	replies, err := pool.Do(cmds)
	g := &Group{pool: pool}
	for _, r := range replies {
		g.Opened += r.OK
		g.Failed += r.Failed
		for _, e := range r.Errors {
			if len(g.Errors) < 5 {
				g.Errors = append(g.Errors, e)
			}
		}
	}
	if err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// Collect waits for the subscribers as c says and returns their merged
// report.
func (g *Group) Collect(c CollectSpec) (*WorkerReport, error) {
	replies, err := g.pool.Broadcast(&Cmd{Op: "collect", Collect: &c})
	rep := &WorkerReport{}
	for _, r := range replies {
		if r.Report != nil {
			rep.Merge(r.Report)
		}
	}
	return rep, err
}

// Close closes every subscription and stops the workers.
func (g *Group) Close() {
	_, _ = g.pool.Broadcast(&Cmd{Op: "close"})
	g.pool.Stop()
}
