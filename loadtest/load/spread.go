package load

import (
	"sync"
	"sync/atomic"
	"time"
)

// SpreadPlan says what PublishSpread publishes: sequence numbers 1..Events
// on each of Channels at Rate per second per channel (0: as fast as
// answered), Pad filler bytes per event. Event seq of channel c goes
// through node (c+seq) % len(targets), skipping the nodes Down reports;
// each channel has one publish in flight at a time, so its events get
// ids in sequence order whatever node each goes through.
//
// With Hook set, every channel stops before publishing seq At; when all of
// them got there (nothing is in flight), Hook runs once, then they go on.
type SpreadPlan struct {
	Channels []string
	Events   int
	Rate     float64
	Pad      int
	At       int
	Hook     func()
	Down     func(node int) bool // nil: every node is up
}

// SpreadStats is what PublishSpread saw over all channels.
type SpreadStats struct {
	PublishStats
	Errors   int              `json:"errors"`   // publishes lost to a connection error (counted in Refused)
	Refused  map[string][]int `json:"refused"`  // per channel, the sequence numbers not answered 2xx
	FirstOK  int64            `json:"first_ok"` // Mono() of the first 2xx answer to a publish sent after Hook; 0: none
	Lat      Hist             `json:"lat"`      // write to answer of each publish
	HookedAt int64            `json:"hooked_at"`
}

// PublishSpread publishes plan over targets (nodes sharing the channels).
func PublishSpread(targets []*Target, plan SpreadPlan) SpreadStats {
	sp := &spread{targets: targets, plan: plan,
		st: SpreadStats{PublishStats: PublishStats{Statuses: map[int]int{}}, Refused: map[string][]int{}}}
	sp.bar = newBarrier(len(plan.Channels), func() {
		if plan.Hook != nil {
			plan.Hook()
		}
		sp.hooked.Store(Mono())
	})
	start := time.Now()
	var wg sync.WaitGroup
	for c := range plan.Channels {
		wg.Go(func() { sp.channel(c, start) })
	}
	wg.Wait()
	sp.st.Elapsed = time.Since(start)
	sp.st.HookedAt = sp.hooked.Load()
	return sp.st
}

// spread is one PublishSpread run.
type spread struct {
	targets []*Target
	plan    SpreadPlan
	bar     *barrier
	hooked  atomic.Int64 // Mono() when Hook ran

	mu sync.Mutex
	st SpreadStats // guarded by mu
}

// channel publishes the events of channel c, one at a time.
func (sp *spread) channel(c int, start time.Time) {
	conns := make([]*Publisher, len(sp.targets))
	defer func() {
		for _, p := range conns {
			if p != nil {
				p.Close()
			}
		}
	}()
	var data []byte
	name := sp.plan.Channels[c]
	for seq := 1; seq <= sp.plan.Events; seq++ {
		if seq == sp.plan.At && sp.plan.Hook != nil {
			sp.bar.arrive()
		}
		if sp.plan.Rate > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(float64(seq-1) / sp.plan.Rate * float64(time.Second)))))
		}
		node := sp.pick(c + seq)
		if conns[node] == nil {
			p, err := DialPublisher(sp.targets[node])
			if err != nil {
				sp.record(name, seq, 0, -1, 0, 0)
				continue
			}
			conns[node] = p
		}
		p := conns[node]
		data = AppendEventData(data[:0], seq, Mono(), sp.plan.Pad)
		t0 := Mono()
		err := p.Send(name, "tick", data)
		if err == nil {
			err = p.Flush()
		}
		status, delivered := 0, -1
		if err == nil {
			status, delivered, _, err = p.ReadReply()
		}
		if err != nil {
			p.Close()
			conns[node] = nil
			status = 0
		}
		sp.record(name, seq, status, delivered, t0, Mono())
	}
}

// pick returns node k % nodes, or the next one that is not down.
func (sp *spread) pick(k int) int {
	n := len(sp.targets)
	for i := range n {
		node := (k + i) % n
		if sp.plan.Down == nil || !sp.plan.Down(node) {
			return node
		}
	}
	return k % n
}

// record books one publish: status 0 is a connection error.
func (sp *spread) record(channel string, seq, status, delivered int, sent, answered int64) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	st := &sp.st
	st.Sent++
	if status == 0 {
		st.Errors++
	} else {
		st.Statuses[status]++
	}
	if status/100 != 2 {
		st.Refused[channel] = append(st.Refused[channel], seq)
		return
	}
	st.OK++
	if delivered > 0 {
		st.Delivered += int64(delivered)
	}
	st.Lat.Record(answered - sent)
	if h := sp.hooked.Load(); h != 0 && sent > h && (st.FirstOK == 0 || answered < st.FirstOK) {
		st.FirstOK = answered
	}
}

// barrier lets n goroutines wait for each other; the last to arrive runs
// fn before any of them goes on.
type barrier struct {
	mu      sync.Mutex
	n, seen int
	fn      func()
	open    chan struct{}
}

func newBarrier(n int, fn func()) *barrier { return &barrier{n: n, fn: fn, open: make(chan struct{})} }

func (b *barrier) arrive() {
	b.mu.Lock()
	b.seen++
	last := b.seen == b.n
	b.mu.Unlock()
	if last {
		b.fn()
		close(b.open)
	}
	<-b.open
}
