package load

import "time"

// faultTimes are the moments (Mono) at which one subscriber got through a
// fault: the first frame after its first reconnect to another node, its
// first realtime.reset frame and the first event after it. 0: not (yet).
// Guarded by the sub's mu.
type faultTimes struct {
	moving     bool // reconnected for the first time, no frame since
	moved      int64
	reset      int64
	afterReset int64
}

// frame notes one frame received at now.
func (t *faultTimes) frame(now int64, reset, event bool) {
	if t.moving {
		t.moving, t.moved = false, now
	}
	switch {
	case reset && t.reset == 0:
		t.reset = now
	case event && t.reset != 0 && t.afterReset == 0:
		t.afterReset = now
	}
}

// report adds the moments at or after since to rep's histograms, as time
// since since.
func (t *faultTimes) report(rep *WorkerReport, since int64) {
	if t.moved != 0 {
		rep.Moved++
	}
	if since == 0 {
		return
	}
	for _, x := range []struct {
		at int64
		h  *Hist
	}{{t.moved, &rep.Move}, {t.reset, &rep.Reset}, {t.afterReset, &rep.AfterReset}} {
		if x.at >= since {
			x.h.Record(x.at - since)
		}
	}
}

// nodeOf returns the index in spec.Addrs of the node subscriber i starts
// on (0 without Addrs).
func (w *worker) nodeOf(i int) int {
	if len(w.spec.Addrs) == 0 {
		return 0
	}
	return (w.spec.First + i) % len(w.spec.Addrs)
}

// channelOf returns the channel of subscriber i: Channels[i % len] alone;
// over several nodes Channels[((First+i) / nodes) % len], so that every
// node gets its share of every channel.
func (w *worker) channelOf(i int) string {
	k := i
	if n := len(w.spec.Addrs); n > 0 {
		k = (w.spec.First + i) / n
	}
	return w.spec.Channels[k%len(w.spec.Channels)]
}

// targetFor returns the target with node's address (the target itself
// without Addrs).
func (w *worker) targetFor(node int) *Target {
	if len(w.spec.Addrs) == 0 {
		return &w.spec.Target
	}
	t := w.spec.Target
	t.Addr = w.spec.Addrs[node%len(w.spec.Addrs)]
	return &t
}

// Bounds of a follower's attempts to reconnect.
const (
	moveAttempts = 200
	moveMaxPause = 500 * time.Millisecond
)

// move reconnects a follower whose stream ended to the next node, with its
// last event id, trying the nodes in turn; after each full turn of failed
// attempts it pauses (growing up to moveMaxPause). It reports false when
// it gave up or the worker stops.
func (s *sub) move() bool {
	s.mu.Lock()
	last := s.lastID
	s.mu.Unlock()
	n := max(len(s.w.spec.Addrs), 1)
	pause := 10 * time.Millisecond
	for attempt := 0; attempt < moveAttempts && !s.w.stopping.Load(); attempt++ {
		s.node = (s.node + 1) % n
		st, err := OpenStream(s.w.targetFor(s.node), s.channel, last, s.w.dialOpts(), subBufSize)
		if err == nil {
			s.mu.Lock()
			s.st = st
			s.resumedFrom = last
			s.times.moving = s.reconnects == 0
			s.reconnects++
			s.mu.Unlock()
			if s.w.stopping.Load() { // close() may have missed it
				st.Conn.Close()
				return false
			}
			return true
		}
		s.countStatus(err)
		if (attempt+1)%n == 0 {
			time.Sleep(pause)
			pause = min(2*pause, moveMaxPause)
		}
	}
	return false
}
