package channel

import (
	"sync"
	"time"

	"github.com/workkit/realtime/ring"
)

// MuxStream is one multiplexed stream (SPEC 3.8): one connection carrying
// several channels. It is subscribed to each channel through a member sink
// (Member(i), with Open.Mux) and writes to out, for every frame a member
// gets, the stream's cursor with that channel's new position ("id:
// <cursor>\n", a small frame of this stream's own) followed by the frame
// itself (the channel's multiplexed form, shared by every stream).
//
// Until Open, the stream is being opened: what members get is held, so the
// opening frame — the cursor as it stands before anything is delivered —
// comes first, then the held frames in the order they came. Each channel's
// frames are in order (its lock orders them); frames of different channels
// interleave as they come. Safe for concurrent use: members are called
// under their channels' locks; mu is a leaf under them.
type MuxStream struct {
	out     PairSink // immutable: the connection
	members []member // immutable

	mu      sync.Mutex
	cur     *Cursor // guarded by mu
	opening bool    // guarded by mu: frames are held until Open
	held    []held  // guarded by mu
	failed  bool    // guarded by mu: out refused a frame; nothing more is sent
	ended   []bool  // guarded by mu: the channels ended by a realtime.closed (Disconnect)
	nEnded  int     // guarded by mu
}

// PairSink is the sink of a multiplexed stream: besides Sink it queues two
// frames at once, so that nothing (a heartbeat) comes between a cursor line
// and the frame it belongs to. loop.Conn is one.
type PairSink interface {
	Sink
	// SendPair queues a then b, taking over a reference to each (both are
	// released if it refuses); live as for Send, else as for Replay.
	SendPair(a, b *ring.Frame, live bool) bool
}

type member struct {
	s      *MuxStream
	slot   int
	joined uint64 // the channel's last id when the member subscribed (written under the channel's lock, read after Subscribe returned)
}

type held struct {
	slot int // -1: f is a realtime.closed frame
	f    *ring.Frame
	live bool
}

// NewMuxStream returns a stream of channels names writing to out, held
// until Open.
func NewMuxStream(out PairSink, names []string) *MuxStream {
	s := &MuxStream{out: out, cur: NewCursor(names), opening: true, ended: make([]bool, len(names))}
	s.members = make([]member, len(names))
	for i := range s.members {
		s.members[i] = member{s: s, slot: i}
	}
	return s
}

// Member returns the sink that subscribes the stream to channel i.
func (s *MuxStream) Member(i int) Sink { return &s.members[i] }

// Start sets where channel i starts: the client's position on a resume,
// else the channel's last id when it was joined (Subscription.Joined).
// Call it for every channel before Open.
func (s *MuxStream) Start(i int, pos uint64) {
	s.mu.Lock()
	s.cur.Set(i, pos)
	s.mu.Unlock()
}

// Open sends head with the opening frame appended (retry and the cursor),
// then what the members got meanwhile, and from then on every frame as it
// comes. head's reference is taken over.
func (s *MuxStream) Open(head *ring.Frame, retry time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	head.SetBytes(AppendMuxOpen(head.Buf(), retry.Milliseconds(), s.cur.Bytes()))
	s.opening = false
	if !s.out.Replay(head) {
		s.failed = true
	}
	for i, h := range s.held {
		if h.slot < 0 { // a channel's realtime.closed
			s.writeClosedLocked(h.f)
		} else {
			s.writeLocked(h.slot, h.f, h.live)
		}
		s.held[i] = held{}
	}
	s.held = nil
	if e, ok := s.out.(Ender); ok && s.nEnded == len(s.members) && !s.failed {
		e.End(nil)
	}
}

// Discard drops what is held: the stream will not open (a channel refused
// it). Cancel its subscriptions first.
func (s *MuxStream) Discard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.held {
		h.f.Release()
	}
	s.held, s.failed = nil, true
}

func (m *member) Send(f *ring.Frame) bool   { return m.s.deliver(m.slot, f, true) }
func (m *member) Replay(f *ring.Frame) bool { return m.s.deliver(m.slot, f, false) }
func (m *member) End(f *ring.Frame) bool    { return m.s.end(m.slot, f) }

// end ends channel slot of the stream with f, its realtime.closed frame in
// the multiplexed form (Ender). When no channel is left, the connection
// ends after it (if out is an Ender; else the frame is all that is sent).
func (s *MuxStream) end(slot int, f *ring.Frame) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended[slot] || s.failed {
		f.Release()
		return false
	}
	s.ended[slot] = true
	s.nEnded++
	if s.opening {
		s.held = append(s.held, held{slot: -1, f: f})
	} else if !s.writeClosedLocked(f) {
		return true
	}
	if e, ok := s.out.(Ender); ok && s.nEnded == len(s.members) && !s.opening {
		e.End(nil)
	}
	return true
}

// deliver writes or holds frame f of channel slot; live frames count
// against the connection's backlog limit, replayed ones are whole.
func (s *MuxStream) deliver(slot int, f *ring.Frame, live bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opening {
		s.held = append(s.held, held{slot: slot, f: f, live: live})
		return true
	}
	return s.writeLocked(slot, f, live)
}

// writeLocked queues the cursor with channel slot at f.ID, then f. mu is
// held.
func (s *MuxStream) writeLocked(slot int, f *ring.Frame, live bool) bool {
	if s.failed {
		f.Release()
		return false
	}
	s.cur.Set(slot, f.ID)
	id := ring.NewFrame()
	id.SetBytes(AppendCursorLine(id.Buf(), s.cur.Bytes()))
	if !s.out.SendPair(id, f, live) {
		s.failed = true
		return false
	}
	return true
}

// writeClosedLocked queues the cursor as it stands, then f, a channel's
// realtime.closed frame, whole. mu is held.
func (s *MuxStream) writeClosedLocked(f *ring.Frame) bool {
	if s.failed {
		f.Release()
		return false
	}
	id := ring.NewFrame()
	id.SetBytes(AppendCursorLine(id.Buf(), s.cur.Bytes()))
	if !s.out.SendPair(id, f, false) {
		s.failed = true
		return false
	}
	return true
}

// Cursor returns the stream's cursor as it stands (a copy).
func (s *MuxStream) Cursor() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.cur.Bytes()...)
}
