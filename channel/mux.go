package channel

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/workkit/realtime/ring"
)

// MuxStream is one multiplexed stream (SPEC 3.8): one connection carrying
// several channels. It is subscribed to each channel through a member sink
// (Member(i), with Open.Mux) and queues on out every frame a member gets
// (the channel's multiplexed form, shared by every stream) marked with its
// channel. When out writes the frame, it first writes the stream's cursor
// with that channel's new position ("id: <cursor>\n"), which it asks of
// the stream (AppendLine): the cursor is kept by the writer, in the order
// the frames leave, and the publisher only queues a shared frame.
//
// Until Open, the stream is being opened: what members get is held, so the
// opening frame — the cursor as it stands before anything is delivered —
// comes first, then the held frames in the order they came. Each channel's
// frames are in order (its lock orders them); frames of different channels
// interleave as they come. Safe for concurrent use: members are called
// under their channels' locks; mu is a leaf under them.
type MuxStream struct {
	out     MuxSink  // immutable: the connection
	members []member // immutable

	// cur is written by Start and read by Open under mu, then (once frames
	// are queued) only by out's AppendLine calls, under out's lock.
	cur *Cursor

	// open is set, under mu, once Open has queued the held frames: from
	// then on a member's frame goes to out without taking mu (each
	// channel's frames are still ordered by the channel's lock).
	open   atomic.Bool
	failed atomic.Bool // out refused a frame: nothing more is sent

	mu      sync.Mutex
	opening bool   // guarded by mu: frames are held until Open
	held    []held // guarded by mu
	ended   []bool // guarded by mu: the channels ended by a realtime.closed (Disconnect)
	nEnded  int    // guarded by mu
}

// MuxSink is the connection of a multiplexed stream: besides Sink it
// queues a frame marked with its channel's slot, to be written after the
// stream's cursor line, which it gets from the stream's AppendLine when it
// writes the frame (nothing, a heartbeat say, comes between the two).
// loop.Conn is one, once bound to the stream (BindCursor).
type MuxSink interface {
	Sink
	// SendMarked queues f of channel slot (-1: a line with the cursor as
	// it stands), taking over the reference (released if it refuses);
	// live as for Send, else as for Replay.
	SendMarked(f *ring.Frame, slot int, live bool) bool
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
func NewMuxStream(out MuxSink, names []string) *MuxStream {
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

// LineLen is the length of the stream's id lines (for out).
func (s *MuxStream) LineLen() int { return len("id: \n") + len(s.cur.Bytes()) }

// AppendLine sets channel slot's position to id (slot -1: none) and
// appends the id line as the cursor then stands. Only out calls it, for
// the frames it writes, in their order, once each, under its lock.
func (s *MuxStream) AppendLine(dst []byte, slot int, id uint64) []byte {
	if slot >= 0 {
		s.cur.Set(slot, id)
	}
	return AppendCursorLine(dst, s.cur.Bytes())
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
		s.failed.Store(true)
	}
	for i, h := range s.held {
		if h.slot < 0 { // a channel's realtime.closed
			s.writeClosedLocked(h.f)
		} else {
			s.write(h.slot, h.f, h.live)
		}
		s.held[i] = held{}
	}
	s.held = nil
	s.open.Store(true)
	if e, ok := s.out.(Ender); ok && s.nEnded == len(s.members) && !s.failed.Load() {
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
	s.held = nil
	s.failed.Store(true)
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
	if s.ended[slot] || s.failed.Load() {
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
	if s.open.Load() {
		return s.write(slot, f, live)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opening {
		s.held = append(s.held, held{slot: slot, f: f, live: live})
		return true
	}
	return s.write(slot, f, live)
}

// write queues f marked with channel slot: the cursor with slot at f.ID
// goes before it.
func (s *MuxStream) write(slot int, f *ring.Frame, live bool) bool {
	if s.failed.Load() {
		f.Release()
		return false
	}
	if !s.out.SendMarked(f, slot, live) {
		s.failed.Store(true)
		return false
	}
	return true
}

// writeClosedLocked queues f, a channel's realtime.closed frame, whole,
// after the cursor as it stands. mu is held.
func (s *MuxStream) writeClosedLocked(f *ring.Frame) bool {
	return s.write(-1, f, false)
}
