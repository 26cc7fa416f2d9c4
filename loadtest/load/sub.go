package load

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"time"
)

// subBufSize is each subscriber's read buffer: room for many coalesced
// frames per read without costing much per idle stream.
const subBufSize = 4096

// sub is one subscriber of a worker. Its goroutine owns st; mu guards the
// check and the counters the collector reads.
type sub struct {
	w       *worker
	idx     int
	node    int // follow: index in spec.Addrs of the node it reads from
	channel string
	st      *Stream
	rng     *rand.Rand // churn only

	mu          sync.Mutex
	check       *SeqCheck
	lastID      string
	heartbeats  int
	drops       int
	reconnects  int
	statuses    map[int]int
	samples     []string // odd frames worth showing in the report
	resumedFrom string   // the Last-Event-ID of the current stream
	holdUntil   int64    // timed churn: Mono() after which the current stream is dropped
	ended       bool     // the server ended a read stream
	done        bool     // received the last sequence number
	times       faultTimes
}

// run reads frames until the stream ends or the worker stops; in churn
// mode it drops and resumes until the last event arrived.
func (s *sub) run() {
	for {
		s.armHold()
		err := s.readStream()
		if s.w.stopping.Load() {
			return
		}
		if s.w.spec.Mode == ModeFollow && !s.done && s.move() {
			continue
		}
		if !errors.Is(err, errDrop) {
			s.mu.Lock()
			s.ended = true
			s.mu.Unlock()
			return
		}
		if !s.resume() {
			return
		}
	}
}

// errDrop ends a churn stream on purpose.
var errDrop = errors.New("load: churn drop")

// readStream handles frames of the current stream until it ends.
func (s *sub) readStream() error {
	for {
		f, err := s.st.Sc.Next()
		if err != nil {
			s.st.Conn.Close()
			return err
		}
		s.w.lastFrame.Store(Mono())
		if s.frame(f) {
			s.st.Conn.Close()
			return errDrop
		}
	}
}

// frame applies one frame; it reports whether a churn subscriber decided
// to drop now.
func (s *sub) frame(f *Frame) (drop bool) {
	now := Mono()
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.HasID {
		s.lastID = string(f.ID)
	}
	s.times.frame(now, IsReset(f), f.HasData)
	return s.apply(f, now) || s.holdOver(now)
}

// apply checks one frame (mu held); it reports whether a churn subscriber
// drops after this event at random (ChurnSpec.DropProb).
func (s *sub) apply(f *Frame, now int64) (drop bool) {
	switch {
	case f.Comment:
		s.heartbeats++
		return false
	case IsReset(f):
		s.check.Reset()
		from := "on its first stream"
		if s.resumedFrom != "" {
			from = "resumed from " + s.resumedFrom
		}
		s.sample("reset id=%s data=%s after seq %d (%s)", f.ID, f.Data, s.check.High(), from)
		return false
	case !f.HasData:
		return false
	}
	seq, ts, ok := ParseEventData(f.Data)
	if !ok {
		return false
	}
	s.check.Event(seq)
	if s.w.spec.Mode != ModeChurn {
		s.w.record(s.idx, now-ts)
	}
	if seq >= s.w.spec.Events && !s.done {
		s.done = true
		s.w.done.Add(1)
	}
	return s.w.spec.Mode == ModeChurn && !s.done && s.rng.Float64() < s.w.spec.Churn.DropProb
}

// armHold starts the hold of a timed churner's current stream
// (ChurnSpec.HoldMaxMs > 0): a uniformly random HoldMinMs..HoldMaxMs.
func (s *sub) armHold() {
	c := s.w.spec.Churn
	if s.w.spec.Mode != ModeChurn || c.HoldMaxMs <= 0 {
		return
	}
	hold := c.HoldMinMs + s.rng.IntN(max(c.HoldMaxMs-c.HoldMinMs, 0)+1)
	s.mu.Lock()
	s.holdUntil = Mono() + int64(hold)*int64(time.Millisecond)
	s.mu.Unlock()
}

// holdOver reports whether a timed churner drops its stream at this frame
// (mu held): its hold is over, it has an id to resume from (one that drops
// before its first event could not resume exactly) and it still waits for
// events. Dropping between frames keeps the scanner's state whole; events
// already in flight are lost with the socket and must come back in the
// replay.
func (s *sub) holdOver(now int64) bool {
	return s.holdUntil > 0 && now >= s.holdUntil && s.lastID != "" && !s.done
}

// resume waits a random time, then reconnects with the last id, retrying
// refused or failed attempts a bounded number of times.
func (s *sub) resume() bool {
	s.mu.Lock()
	s.drops++
	last := s.lastID
	s.mu.Unlock()
	c := s.w.spec.Churn
	for attempt := 0; attempt < 50 && !s.w.stopping.Load(); attempt++ {
		if c.MaxDownMs > 0 {
			time.Sleep(time.Duration(s.rng.IntN(c.MaxDownMs*1000+1)) * time.Microsecond)
		}
		t0 := Mono()
		st, err := OpenStream(&s.w.spec.Target, s.channel, last, s.w.dialOpts(), subBufSize)
		if err == nil {
			s.w.recordResume(Mono() - t0)
			s.mu.Lock()
			s.st = st
			s.resumedFrom = last
			s.reconnects++
			s.mu.Unlock()
			if s.w.stopping.Load() { // close() may have missed it
				st.Conn.Close()
				return false
			}
			return true
		}
		s.countStatus(err)
		time.Sleep(time.Duration(10+attempt*20) * time.Millisecond)
	}
	return false
}

// sample keeps a description of an odd frame (mu held).
func (s *sub) sample(format string, args ...any) {
	if len(s.samples) < maxSamples {
		s.samples = append(s.samples, fmt.Sprintf(format, args...))
	}
}

func (s *sub) countStatus(err error) {
	var se *StatusError
	if !errors.As(err, &se) {
		return
	}
	s.mu.Lock()
	if s.statuses == nil {
		s.statuses = map[int]int{}
	}
	s.statuses[se.Status]++
	s.mu.Unlock()
}

// drainSlow reads what the server sent to a stalled subscriber until the
// connection ends (the server closed it) or nothing more comes for d.
func drainSlow(st *Stream, d time.Duration) (closed bool) {
	buf := make([]byte, 64<<10)
	for {
		_ = st.Conn.SetReadDeadline(time.Now().Add(d))
		_, err := st.R.Read(buf)
		var ne net.Error
		switch {
		case err == nil:
			continue
		case errors.As(err, &ne) && ne.Timeout():
			return false
		case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
			return true
		default:
			return true
		}
	}
}
