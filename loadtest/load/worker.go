package load

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Environment of a worker process, set by StartPool.
const (
	envWorker   = "REALTIME_LOADTEST_WORKER"   // "1" in a worker
	envDeadline = "REALTIME_LOADTEST_DEADLINE" // Unix seconds at which a worker exits regardless
)

// MaybeWorker turns the process into a load worker when StartPool started
// it as one: it serves the parent over stdin/stdout and exits. Call it first
// thing in main (and in TestMain of tests that start workers).
func MaybeWorker() {
	if os.Getenv(envWorker) != "1" {
		return
	}
	if dl, err := strconv.ParseInt(os.Getenv(envDeadline), 10, 64); err == nil {
		time.AfterFunc(time.Until(time.Unix(dl, 0)), func() {
			fmt.Fprintln(os.Stderr, "load worker: deadline passed, exiting")
			os.Exit(3)
		})
	}
	os.Exit(serveWorker(os.Stdin, os.Stdout, func() { os.Exit(0) }))
}

// histShards spreads latency recording over several locks.
const histShards = 16

// worker holds one process's subscribers. Its command loop runs on one
// goroutine; subscribers run on their own.
type worker struct {
	spec      OpenSpec
	subs      []*sub
	slow      []*Stream
	msubs     []*muxSub    // ModeMux (muxsub.go)
	ended     atomic.Int64 // ModeMux streams the server ended
	stopping  atomic.Bool
	done      atomic.Int64 // reading subscribers that got the last event
	lastFrame atomic.Int64 // Mono() of the latest frame received by any subscriber
	resumeMu  sync.Mutex
	resume    Hist // guarded by resumeMu
	shards    [histShards]struct {
		mu sync.Mutex
		h  Hist
	}
}

// serveWorker answers commands read from in. Commands are read on their
// own goroutine so that stdin EOF (the parent is gone) is noticed at once,
// even during a long command: then onEOF runs (MaybeWorker exits).
func serveWorker(in io.Reader, out io.Writer, onEOF func()) int {
	cmds := make(chan Cmd)
	go func() {
		dec := json.NewDecoder(bufio.NewReader(in))
		for {
			var c Cmd
			if err := dec.Decode(&c); err != nil {
				close(cmds)
				onEOF()
				return
			}
			cmds <- c
		}
	}()
	enc := json.NewEncoder(out)
	w := &worker{}
	defer func() { w.close() }()
	for c := range cmds {
		if err := enc.Encode(handle(&w, &c)); err != nil {
			return 1
		}
	}
	return 0
}

// handle runs one command; an open replaces *wp with a fresh worker (the
// old one's goroutines see it stopping).
func handle(wp **worker, c *Cmd) Reply {
	w := *wp
	switch {
	case c.Op == "open" && c.Open != nil:
		w.close()
		*wp = &worker{spec: *c.Open}
		return (*wp).open()
	case c.Op == "collect" && c.Collect != nil:
		return w.collect(*c.Collect)
	case c.Op == "close":
		w.close()
		return Reply{Op: "closed"}
	}
	return Reply{Op: "error", Errors: []string{"bad command " + c.Op}}
}

func (w *worker) dialOpts() DialOptions {
	return DialOptions{Src: w.spec.Src, RcvBuf: w.spec.RcvBuf}
}

func (w *worker) record(idx int, d int64) {
	s := &w.shards[idx%histShards]
	s.mu.Lock()
	s.h.Record(d)
	s.mu.Unlock()
}

func (w *worker) recordResume(d int64) {
	w.resumeMu.Lock()
	w.resume.Record(d)
	w.resumeMu.Unlock()
}

// open connects the subscribers of spec, a bounded number at a time, and
// starts a goroutine per reading subscriber.
func (w *worker) open() Reply {
	if w.spec.Mode == ModeMux {
		return w.openMux()
	}
	return w.openEach(func(i int) (*Stream, error) {
		return OpenStream(w.targetFor(w.nodeOf(i)), w.channelOf(i), "", w.dialOpts(), subBufSize)
	}, w.start)
}

// openEach opens stream i of spec.N with dial, spec.Concurrency (default
// 64) at a time, hands each that opened to start, and reports how many
// opened and the first errors.
func (w *worker) openEach(dial func(i int) (*Stream, error), start func(i int, st *Stream)) Reply {
	conc := w.spec.Concurrency
	if conc <= 0 {
		conc = 64
	}
	streams := make([]*Stream, w.spec.N)
	errs := make([]error, w.spec.N)
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i := range w.spec.N {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			streams[i], errs[i] = dial(i)
		})
	}
	wg.Wait()
	r := Reply{Op: "opened"}
	for i, st := range streams {
		if errs[i] != nil {
			r.Failed++
			if len(r.Errors) < 5 {
				r.Errors = append(r.Errors, errs[i].Error())
			}
			continue
		}
		r.OK++
		start(i, st)
	}
	return r
}

// start hands an open stream to its subscriber.
func (w *worker) start(i int, st *Stream) {
	if w.spec.Mode == ModeSlow {
		w.slow = append(w.slow, st)
		return
	}
	s := &sub{w: w, idx: i, node: w.nodeOf(i), channel: w.channelOf(i), st: st,
		check: NewSeqCheck(w.spec.Events),
		rng:   rand.New(rand.NewPCG(w.spec.Churn.Seed, uint64(i)))}
	w.subs = append(w.subs, s)
	go s.run()
}

// collect waits for the subscribers (see CollectSpec) and reports.
func (w *worker) collect(c CollectSpec) Reply {
	if c.Events > w.spec.Events { // subscribers read spec.Events: write it only when it grows
		w.spec.Events = c.Events
	}
	start := time.Now()
	quiet := time.Duration(c.QuietMs) * time.Millisecond
	for w.waiting(c) && time.Since(start) < time.Duration(c.TimeoutMs)*time.Millisecond {
		if quiet > 0 && time.Duration(Mono()-max(w.lastFrame.Load(), monoAt(start))) > quiet {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.stopping.Store(w.spec.Mode == ModeChurn)
	rep := &WorkerReport{}
	for _, s := range w.subs {
		s.report(rep, c)
	}
	w.reportMux(rep, c)
	for i := range w.shards {
		sh := &w.shards[i]
		sh.mu.Lock()
		rep.Lat.Merge(&sh.h)
		sh.mu.Unlock()
	}
	w.resumeMu.Lock()
	rep.Resume.Merge(&w.resume)
	w.resumeMu.Unlock()
	rep.LastFrame = w.lastFrame.Load()
	w.drainSlow(rep, time.Duration(c.DrainMs)*time.Millisecond)
	return Reply{Op: "report", Report: rep}
}

// monoAt converts a time.Time taken in this process to the Mono clock.
func monoAt(t time.Time) int64 { return monoBase + int64(t.Sub(wallBase)) }

// report adds one subscriber's counts to rep.
func (s *sub) report(rep *WorkerReport, c CollectSpec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seq := range c.Unpublished[s.channel] {
		s.check.Unpublished(seq)
	}
	rep.Checks.Add(s.check.Result(c.Events))
	s.times.report(rep, c.Since)
	rep.Heartbeats += s.heartbeats
	rep.Drops += s.drops
	rep.Reconnects += s.reconnects
	if s.ended {
		rep.Disconnects++
	}
	if s.done {
		rep.Done++
	}
	for _, x := range s.samples {
		if len(rep.Samples) < maxSamples {
			rep.Samples = append(rep.Samples, x)
		}
	}
	for k, v := range s.statuses {
		if rep.Statuses == nil {
			rep.Statuses = map[int]int{}
		}
		rep.Statuses[k] += v
	}
}

// drainSlow learns, in parallel, which slow subscribers were disconnected.
func (w *worker) drainSlow(rep *WorkerReport, d time.Duration) {
	var closed atomic.Int64
	var wg sync.WaitGroup
	for _, st := range w.slow {
		wg.Go(func() {
			if drainSlow(st, d) {
				closed.Add(1)
			}
		})
	}
	wg.Wait()
	rep.SlowClosed = int(closed.Load())
	rep.SlowOpen = len(w.slow) - rep.SlowClosed
}

// close ends every subscription of the worker.
func (w *worker) close() {
	w.stopping.Store(true)
	for _, s := range w.subs {
		s.mu.Lock()
		st := s.st
		s.mu.Unlock()
		st.Conn.Close()
	}
	for _, st := range w.slow {
		st.Conn.Close()
	}
	w.closeMux()
	w.subs, w.slow = nil, nil
}
