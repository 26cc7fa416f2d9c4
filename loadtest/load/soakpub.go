package load

import (
	"errors"
	"sync"
	"time"
)

// SoakPublish is what the soak's publishers did.
type SoakPublish struct {
	Published  []int       `json:"published"` // per channel: events 1..Published[i] went out
	OK         int         `json:"ok"`        // 2xx answers
	Statuses   map[int]int `json:"statuses"`
	ConnErrors int         `json:"conn_errors"` // broken connections, each followed by a resend
	Err        string      `json:"err,omitempty"`
}

// chanPub is one channel's publisher tally.
type chanPub struct {
	published  int
	statuses   map[int]int
	connErrors int
	err        error
}

// soakPublish publishes sequence numbers 1..n on every channel, one
// keep-alive connection per channel: channel i's events are len(chans)/rate
// apart, starting i/rate after t0, so the total is rate per second, evenly
// spread. Nothing is sent after hard.
func soakPublish(t *Target, chans []string, n int, rate float64, t0, hard time.Time) SoakPublish {
	sec := float64(time.Second)
	interval := time.Duration(float64(len(chans)) / rate * sec)
	tallies := make([]chanPub, len(chans))
	var wg sync.WaitGroup
	for i, ch := range chans {
		start := t0.Add(time.Duration(float64(i) / rate * sec))
		wg.Go(func() { tallies[i] = publishChannel(t, ch, n, start, interval, hard) })
	}
	wg.Wait()
	out := SoakPublish{Statuses: map[int]int{}}
	for _, tl := range tallies {
		out.Published = append(out.Published, tl.published)
		out.ConnErrors += tl.connErrors
		for k, v := range tl.statuses {
			out.Statuses[k] += v
			if k/100 == 2 {
				out.OK += v
			}
		}
		if tl.err != nil && out.Err == "" {
			out.Err = tl.err.Error()
		}
	}
	return out
}

// publishChannel publishes 1..n on ch at start, start+interval, ...; it
// stops at the first event it could not publish, so what went out is
// always 1..published.
func publishChannel(t *Target, ch string, n int, start time.Time, interval time.Duration, hard time.Time) chanPub {
	cp := chanPub{statuses: map[int]int{}}
	var p *Publisher
	defer func() {
		if p != nil {
			p.Close()
		}
	}()
	for seq := 1; seq <= n; seq++ {
		time.Sleep(time.Until(start.Add(time.Duration(seq-1) * interval)))
		if !cp.publish(t, &p, ch, seq, hard) {
			break
		}
		cp.published = seq
	}
	return cp
}

// publish sends event seq on *pp (dialled when nil), retrying a refusal or
// a broken connection up to four times. A resend after a broken connection
// may duplicate the event if the server had taken it: ConnErrors tells.
func (cp *chanPub) publish(t *Target, pp **Publisher, ch string, seq int, hard time.Time) bool {
	for attempt := range 5 {
		if attempt > 0 {
			time.Sleep(100 * time.Millisecond)
		}
		if time.Now().After(hard) {
			cp.err = errors.New("load: publishing ran past the soak's bound")
			return false
		}
		if *pp == nil {
			p, err := DialPublisher(t)
			if err != nil {
				cp.err = err
				continue
			}
			*pp = p
		}
		status, err := publishOnce(*pp, ch, seq, earliest(time.Now().Add(10*time.Second), hard))
		if err != nil {
			cp.connErrors++
			cp.err = err
			(*pp).Close()
			*pp = nil
			continue
		}
		cp.statuses[status]++
		if status/100 == 2 {
			return true
		}
	}
	return false
}

// publishOnce publishes one {"seq","ts"} event and reads the answer by
// deadline.
func publishOnce(p *Publisher, ch string, seq int, deadline time.Time) (int, error) {
	_ = p.conn.SetDeadline(deadline)
	p.data = AppendEventData(p.data[:0], seq, Mono(), 0)
	err := p.Send(ch, "tick", p.data)
	if err == nil {
		err = p.Flush()
	}
	if err != nil {
		return 0, err
	}
	status, _, _, err := p.ReadReply()
	return status, err
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
