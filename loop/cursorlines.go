package loop

import (
	"github.com/workkit/realtime/ring"
	"golang.org/x/sys/unix"
)

// CursorLines builds the `id:` lines of a multiplexed stream (SPEC 3.8;
// channel.MuxStream is one). Its frames are queued marked with their
// channel's slot (SendMarked); the line before each is built when the frame
// is gathered for the socket, from the stream's cursor as the frames before
// it left it. Built then rather than when the frame is queued, it costs the
// publisher (who holds the channel's lock) nothing, needs no frame of its
// own, and is built once however the write is split.
type CursorLines interface {
	// LineLen is the length of every line of the stream; it never changes.
	LineLen() int
	// AppendLine sets the position of channel slot to id (slot -1: no
	// position changes) and appends the line as the cursor then stands.
	// The connection calls it under its lock, in queue order, once per
	// marked frame.
	AppendLine(dst []byte, slot int, id uint64) []byte
}

// noSlot marks a queued frame that has no cursor line (a heartbeat, the
// stream's head).
const noSlot = -2

// cursorLines is a multiplexed stream's share of its connection: the slot
// of every queued frame, and the lines of the marked frames at the head of
// the queue that were gathered already (and maybe partly written), in
// queue order.
type cursorLines struct {
	src   CursorLines // immutable
	n     int         // immutable: src.LineLen()
	slots []int32     // one per queued frame: its slot, or noSlot
	buf   []byte      // the lines of the marked frames among queue[:built], n bytes each
	built int         // frames at the head of the queue gathered at least once
}

// maxLineBuf is what an emptied line buffer may keep: a burst's is dropped.
const maxLineBuf = 4 << 10

// BindCursor makes c the connection of a multiplexed stream whose id lines
// l builds; call it once, before the first SendMarked. Frames queued
// before (an earlier reply) have no line.
func (c *Conn) BindCursor(l CursorLines) {
	c.mu.Lock()
	c.lines = &cursorLines{src: l, n: l.LineLen(), slots: make([]int32, len(c.queue))}
	for i := range c.lines.slots {
		c.lines.slots[i] = noSlot
	}
	c.mu.Unlock()
}

// SendMarked queues f, a frame of channel slot of the multiplexed stream
// bound by BindCursor, to be written after the stream's cursor line with
// slot at f.ID (slot -1: the cursor as it stands; channel.MuxSink). live as
// for Send, else as for Replay. Nothing can come between the line and f.
func (c *Conn) SendMarked(f *ring.Frame, slot int, live bool) bool {
	return c.enqueueSlot(f, int32(slot), live, true)
}

// pushLocked appends f, marked with slot (noSlot: unmarked), to the
// queue. mu is held.
func (c *Conn) pushLocked(f *ring.Frame, slot int32) {
	c.queue = append(c.queue, f)
	if c.lines != nil {
		c.lines.slots = append(c.lines.slots, slot)
	}
}

// entryLen is the bytes queue[i] puts on the wire. mu is held.
func (c *Conn) entryLen(i int) int {
	if c.lines != nil && c.lines.slots[i] != noSlot {
		return c.lines.n + c.queue[i].Len()
	}
	return c.queue[i].Len()
}

// gatherMarkedLocked is gatherLocked for a multiplexed stream: each marked
// entry takes two iovecs, its line (built here the first time it is
// gathered) and its frame. mu is held.
func (c *Conn) gatherMarkedLocked(sc *flushScratch) []unix.Iovec {
	l, n, line := c.lines, 0, 0
	for i, f := range c.queue {
		if n+2 > maxIovecs {
			break
		}
		skip := 0
		if i == 0 {
			skip = c.off
		}
		if slot := l.slots[i]; slot != noSlot {
			if i >= l.built {
				l.buf = l.src.AppendLine(l.buf, int(slot), f.ID)
			}
			b := l.buf[line*l.n : (line+1)*l.n]
			line++
			if skip < len(b) {
				setIovec(&sc.iov[n], b[skip:])
				n++
				skip = 0
			} else {
				skip -= len(b)
			}
		}
		l.built = max(l.built, i+1)
		setIovec(&sc.iov[n], f.Bytes()[skip:])
		n++
	}
	return sc.iov[:n]
}

// consumed drops the slots and lines of the done frames written off the
// head of the queue. mu is held.
func (l *cursorLines) consumed(done int) {
	marked := 0
	for _, slot := range l.slots[:done] {
		if slot != noSlot {
			marked++
		}
	}
	l.slots = l.slots[:copy(l.slots, l.slots[done:])]
	l.built -= done
	l.buf = l.buf[:copy(l.buf, l.buf[marked*l.n:])]
	if len(l.slots) == 0 && cap(l.slots) > 64 { // a burst grew them: give the memory back
		l.slots, l.buf = nil, nil
	}
	if len(l.buf) == 0 && cap(l.buf) > maxLineBuf {
		l.buf = nil
	}
}
