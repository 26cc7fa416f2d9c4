package load

import (
	"errors"
	"net/url"
	"sync"
)

// MuxSpec shapes the subscribers of ModeMux. Subscriber i of a worker
// holds the channels Pool[Sets[i][0]], Pool[Sets[i][1]], ... (in that
// order in its request, so in its cursor); Expect says how many events will
// be published on each channel (sequence numbers 1..Expect[name]).
type MuxSpec struct {
	Pool   []string       `json:"pool"`
	Sets   [][]int        `json:"sets"`
	Expect map[string]int `json:"expect,omitempty"`
	// Single: each subscriber is a plain GET /sse/{ch} on its one channel
	// (the baseline multiplexed streams are compared with).
	Single bool `json:"single,omitempty"`
	// Reason is the realtime.closed reason the streams may end with (""
	// accepts any).
	Reason string `json:"reason,omitempty"`
}

// names returns the channels of set.
func (m *MuxSpec) names(set []int) []string {
	out := make([]string, len(set))
	for i, c := range set {
		out[i] = m.Pool[c]
	}
	return out
}

// MuxSubscribeRequest appends the GET that opens a multiplexed stream of
// channels (SPEC 3.8): GET /sse?channel=a&channel=b...
func (t *Target) MuxSubscribeRequest(dst []byte, channels []string) []byte {
	dst = append(dst, "GET /sse"...)
	for i, c := range channels {
		if i == 0 {
			dst = append(dst, "?channel="...)
		} else {
			dst = append(dst, "&channel="...)
		}
		dst = append(dst, url.QueryEscape(c)...)
	}
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, t.Addr...)
	dst = append(dst, "\r\nAccept: text/event-stream\r\n"...)
	dst = t.appendAuth(dst)
	return append(dst, "\r\n"...)
}

// OpenMuxStream opens a multiplexed stream of channels on t (with single,
// a plain stream of channels[0]) and returns once the response head was
// read (a 200).
func OpenMuxStream(t *Target, channels []string, single bool, o DialOptions, bufSize int) (*Stream, error) {
	if single {
		if len(channels) != 1 {
			return nil, errors.New("load: a single stream has one channel")
		}
		return OpenStream(t, channels[0], "", o, bufSize)
	}
	return openStreamWith(t, t.MuxSubscribeRequest(nil, channels), o, bufSize)
}

// muxSub is one ModeMux subscriber. Its goroutine owns st; mu guards the
// check and the moments the collector reads.
type muxSub struct {
	w   *worker
	idx int
	st  *Stream

	mu       sync.Mutex
	check    *MuxCheck
	done     bool  // every channel got its last sequence number
	closedAt int64 // Mono() of the first realtime.closed frame; 0: none
	endedAt  int64 // Mono() at which the connection ended; 0: open
}

// openMux connects the ModeMux subscribers of spec, a bounded number at a
// time, and starts a goroutine per stream.
func (w *worker) openMux() Reply {
	m := w.spec.Mux
	if m == nil || len(m.Sets) < w.spec.N {
		return Reply{Op: "error", Errors: []string{"mux: no channel set for every subscriber"}}
	}
	return w.openEach(func(i int) (*Stream, error) {
		return OpenMuxStream(w.targetFor(w.nodeOf(i)), m.names(m.Sets[i]), m.Single, w.dialOpts(), subBufSize)
	}, w.startMux)
}

// startMux hands open multiplexed stream i to its checker and reader.
func (w *worker) startMux(i int, st *Stream) {
	m := w.spec.Mux
	names := m.names(m.Sets[i])
	expect := make([]int, len(names))
	for j, n := range names {
		expect[j] = m.Expect[n]
	}
	s := &muxSub{w: w, idx: i, st: st, check: NewMuxCheck(names, expect, m.Single, m.Reason)}
	if s.check.Done() { // nothing will be published on its channels
		s.done = true
		w.done.Add(1)
	}
	w.msubs = append(w.msubs, s)
	go s.run()
}

// run reads and checks frames until the stream ends.
func (s *muxSub) run() {
	for {
		f, err := s.st.Sc.Next()
		now := Mono()
		if err != nil {
			s.st.Conn.Close()
			if s.w.stopping.Load() {
				return // closed by the worker, not by the server
			}
			s.mu.Lock()
			s.check.End()
			s.endedAt = now
			s.mu.Unlock()
			s.w.ended.Add(1)
			return
		}
		s.w.lastFrame.Store(now)
		s.mu.Lock()
		ts, event := s.check.Frame(f)
		if s.closedAt == 0 && string(f.Event) == "realtime.closed" {
			s.closedAt = now
		}
		if !s.done && event && s.check.Done() {
			s.done = true
			s.w.done.Add(1)
		}
		s.mu.Unlock()
		if event {
			s.w.record(s.idx, now-ts)
		}
	}
}

// waiting reports whether collect c still waits for the subscribers.
func (w *worker) waiting(c CollectSpec) bool {
	if c.UntilEnded {
		return int(w.ended.Load()) < len(w.msubs)
	}
	return int(w.done.Load()) < len(w.subs)+len(w.msubs)
}

// reportMux adds the ModeMux subscribers' figures to rep.
func (w *worker) reportMux(rep *WorkerReport, c CollectSpec) {
	if len(w.msubs) == 0 {
		return
	}
	mr := &MuxReport{}
	for _, s := range w.msubs {
		s.mu.Lock()
		ck, st := s.check.Result(c.Unpublished)
		rep.Checks.Add(ck)
		mr.MuxStats.Merge(&st)
		rep.Heartbeats += st.Heartbeats
		if s.endedAt != 0 && !s.check.FullyClosed() {
			rep.Disconnects++
		}
		if s.done {
			rep.Done++
		}
		if s.closedAt != 0 && s.closedAt >= c.Since {
			mr.ClosedAt.Record(s.closedAt - c.Since)
		}
		if s.endedAt != 0 && s.endedAt >= c.Since {
			mr.EndedAt.Record(s.endedAt - c.Since)
		}
		s.mu.Unlock()
	}
	rep.Mux = mr
}

// closeMux ends every ModeMux stream of the worker.
func (w *worker) closeMux() {
	for _, s := range w.msubs {
		s.st.Conn.Close()
	}
	w.msubs = nil
}
