package load

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// PollTally counts the answers of a channel flood.
type PollTally struct {
	Answered   int64       `json:"answered"`
	OK         int64       `json:"ok"`          // 200: a channel was made (or found)
	Refused    int64       `json:"refused_503"` // 503: over --max-channels
	RetryAfter int64       `json:"retry_after"` // 503s that carried Retry-After
	Other      int64       `json:"other"`
	Unanswered int64       `json:"unanswered"` // pipelined requests lost when a connection closed
	Reconnects int64       `json:"reconnects"`
	LastOK     int64       `json:"last_ok_mono"` // Mono() of the last 200; 0 when none came
	Statuses   map[int]int `json:"statuses"`
	Errors     []string    `json:"errors,omitempty"` // the first few connection errors
}

// pollTally is PollTally shared by the flood's connections; ok is read
// by the sampler while they run.
type pollTally struct {
	ok, answered, refused, retryAfter, other, unanswered, reconnects atomic.Int64
	lastOK                                                           atomic.Int64 // Mono() of the last 200

	mu       sync.Mutex
	statuses map[int]int
	errors   []string
}

func newPollTally() *pollTally { return &pollTally{statuses: map[int]int{}} }

// count tallies one answer.
func (t *pollTally) count(status int, retryAfter bool) {
	t.answered.Add(1)
	switch {
	case status == 200:
		t.ok.Add(1)
		t.lastOK.Store(Mono())
	case status == 503:
		t.refused.Add(1)
		if retryAfter {
			t.retryAfter.Add(1)
		}
	default:
		t.other.Add(1)
	}
	t.mu.Lock()
	t.statuses[status]++
	t.mu.Unlock()
}

// fail keeps the first few connection errors.
func (t *pollTally) fail(err error) {
	t.mu.Lock()
	if len(t.errors) < 5 {
		t.errors = append(t.errors, err.Error())
	}
	t.mu.Unlock()
}

func (t *pollTally) snapshot() PollTally {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := map[int]int{}
	for k, v := range t.statuses {
		st[k] = v
	}
	return PollTally{Answered: t.answered.Load(), OK: t.ok.Load(), Refused: t.refused.Load(),
		RetryAfter: t.retryAfter.Load(), Other: t.other.Load(), Unanswered: t.unanswered.Load(),
		Reconnects: t.reconnects.Load(), LastOK: t.lastOK.Load(), Statuses: st, Errors: append([]string(nil), t.errors...)}
}

// floodPolls sends rounds of Window pipelined polls, each naming the next
// channel of next, on one keep-alive connection until deadline. When the
// server closes the connection (it may after a 503) the requests still in
// flight count as unanswered and a new connection carries on.
func floodPolls(t *Target, p ChanFloodParams, next *atomic.Int64, deadline time.Time, tally *pollTally) {
	var pub *Publisher
	defer func() {
		if pub != nil {
			pub.Close()
		}
	}()
	var req []byte
	for dialled := false; time.Now().Before(deadline); {
		if pub == nil {
			var err error
			if pub, err = DialPublisher(t); err != nil {
				tally.fail(err)
				time.Sleep(50 * time.Millisecond)
				continue
			}
			if dialled {
				tally.reconnects.Add(1)
			}
			dialled = true
			_ = pub.conn.SetDeadline(deadline.Add(10 * time.Second))
		}
		for range max(p.Window, 1) {
			req = appendPoll(req[:0], t, p.Prefix, next.Add(1))
			_ = pub.SendRaw(req)
		}
		if !readPolls(pub, max(p.Window, 1), tally) {
			pub.Close()
			pub = nil
		}
	}
}

// readPolls flushes the queued polls and reads n answers; false when the
// connection is done (an error, or the server said Connection: close).
func readPolls(pub *Publisher, n int, tally *pollTally) bool {
	if err := pub.Flush(); err != nil {
		tally.fail(err)
		tally.unanswered.Add(int64(n))
		return false
	}
	for i := range n {
		var retryAfter, closing bool
		status, _, err := ReadResponseFunc(pub.r, false, func(k, v []byte) {
			retryAfter = retryAfter || bytes.EqualFold(k, []byte("Retry-After"))
			closing = closing || bytes.EqualFold(k, []byte("Connection")) && bytes.EqualFold(v, []byte("close"))
		})
		if err != nil {
			tally.fail(err)
			tally.unanswered.Add(int64(n - i))
			return false
		}
		tally.count(status, retryAfter)
		if closing {
			tally.unanswered.Add(int64(n - i - 1))
			return false
		}
	}
	return true
}

// appendPoll appends a keep-alive GET /poll/<prefix><i> with t's token.
func appendPoll(dst []byte, t *Target, prefix string, i int64) []byte {
	dst = append(dst, "GET /poll/"...)
	dst = append(dst, prefix...)
	dst = strconv.AppendInt(dst, i, 10)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, t.Addr...)
	dst = append(dst, "\r\n"...)
	dst = t.appendAuth(dst)
	return append(dst, "\r\n"...)
}
