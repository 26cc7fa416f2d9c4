package load

import (
	"errors"
	"sync"
	"time"
)

// OrderPlan says what PublishOrder publishes: event i on channel
// Pool[Order[i]], each channel's events numbered 1, 2, ... in that order,
// at Rate events per second (0: as fast as the window allows), at most
// Window requests in flight (0: 1), Pad filler bytes per event.
type OrderPlan struct {
	Pool   []string
	Order  []int
	Rate   float64
	Window int
	Pad    int
}

// PublishOrder publishes plan's events on one keep-alive connection (its
// requests are served in order, so each channel's ids follow its sequence
// numbers); each event's data carries its channel's sequence number and
// the Mono() time it was written. refused lists, per channel, the sequence
// numbers not answered 2xx.
func PublishOrder(t *Target, plan OrderPlan) (st PublishStats, refused map[string][]int, err error) {
	p, err := DialPublisher(t)
	if err != nil {
		return PublishStats{}, nil, err
	}
	defer p.Close()
	type pending struct{ ch, seq int }
	inflight := make(chan pending, max(plan.Window, 1)) // the window: one slot per request in flight
	st = PublishStats{Statuses: map[int]int{}}
	refused = map[string][]int{}
	var rerr error
	var wg sync.WaitGroup
	n := len(plan.Order)
	readerDone := make(chan struct{})
	wg.Go(func() {
		defer close(readerDone)
		for range n {
			status, d, _, err := p.ReadReply()
			if err != nil {
				rerr = err
				return
			}
			x := <-inflight
			st.Statuses[status]++
			if status/100 == 2 {
				st.OK++
			} else {
				refused[plan.Pool[x.ch]] = append(refused[plan.Pool[x.ch]], x.seq)
			}
			if d > 0 {
				st.Delivered += int64(d)
			}
		}
	})
	seqs := make([]int, len(plan.Pool))
	start := time.Now()
	var werr error
	for i, c := range plan.Order {
		if plan.Rate > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(float64(i) / plan.Rate * float64(time.Second)))))
		}
		select {
		case inflight <- pending{c, seqs[c] + 1}:
		case <-readerDone: // the connection broke: nothing more is answered
			werr = errors.New("load: publish connection lost")
		}
		if werr != nil {
			break
		}
		seqs[c]++
		p.data = AppendEventData(p.data[:0], seqs[c], Mono(), plan.Pad)
		if werr = p.Send(plan.Pool[c], "tick", p.data); werr == nil {
			werr = p.Flush()
		}
		st.Sent++
		if werr != nil {
			break
		}
	}
	if werr != nil {
		p.Close() // unblocks the reader
	}
	wg.Wait()
	st.Elapsed = time.Since(start)
	// Unanswered and unsent events may never have been published: the
	// checkers must not expect them (one that did arrive still counts).
	for len(inflight) > 0 {
		x := <-inflight
		refused[plan.Pool[x.ch]] = append(refused[plan.Pool[x.ch]], x.seq)
	}
	for _, c := range plan.Order[st.Sent:] {
		seqs[c]++
		refused[plan.Pool[c]] = append(refused[plan.Pool[c]], seqs[c])
	}
	if werr != nil {
		rerr = werr
	}
	if rerr != nil {
		st.Err = rerr.Error()
	}
	return st, refused, rerr
}
