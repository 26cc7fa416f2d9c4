package ring

import (
	"sync"
	"sync/atomic"

	"github.com/valyala/bytebufferpool"
)

// Frame is a chunk of bytes ready for the wire: an SSE event framed once by
// the channel package, or a response or stream head built by the broker. The
// same Frame is shared by a channel's replay ring and by the outbound queue
// of every connection it was sent to, so it is reference-counted: whoever
// holds a reference calls Release exactly once, and the last Release returns
// the buffer to the pool.
//
// A Frame's bytes are written only by its creator while it holds the only
// reference; once shared, they are immutable. Retain and Release are safe
// for concurrent use.
type Frame struct {
	// ID is the event id of an event frame, 0 for any other frame. Immutable
	// once shared.
	ID uint64

	// buf holds the bytes; nil for a static frame.
	buf *bytebufferpool.ByteBuffer
	// static is the immutable payload of a frame made by Static.
	static []byte
	// refs counts the holders of a pooled frame; unused for a static one.
	refs atomic.Int32
}

var (
	bufPool   bytebufferpool.Pool
	framePool = sync.Pool{New: func() any { return new(Frame) }}
)

// NewFrame returns an empty pooled frame holding one reference, owned by the
// caller until it is shared.
func NewFrame() *Frame {
	f := framePool.Get().(*Frame)
	f.buf = bufPool.Get()
	f.refs.Store(1)
	return f
}

// Static returns a frame over b that is never recycled: Retain and Release
// do nothing. b must not change afterwards. Used for constant frames such
// as heartbeats.
func Static(b []byte) *Frame {
	return &Frame{static: b}
}

// Bytes returns the frame's bytes. The slice stays valid while the caller
// holds a reference.
func (f *Frame) Bytes() []byte {
	if f.buf == nil {
		return f.static
	}
	return f.buf.B
}

// Len is len(f.Bytes()).
func (f *Frame) Len() int { return len(f.Bytes()) }

// frameOverhead approximates what a frame holds besides its buffer's
// capacity: the Frame and ByteBuffer headers and a ring slot.
const frameOverhead = 80

// Cost is the memory a frame holds: its buffer's capacity (a pooled buffer
// may be larger than its bytes) and its headers. It does not change once
// the frame is shared.
func (f *Frame) Cost() int64 {
	if f.buf == nil {
		return int64(len(f.static)) + frameOverhead
	}
	return int64(cap(f.buf.B)) + frameOverhead
}

// AppendString appends s to the frame. Only the creator may call it,
// before the frame is shared.
func (f *Frame) AppendString(s string) { f.buf.B = append(f.buf.B, s...) }

// SetBytes replaces the frame's bytes with b built by the caller, typically
// from f.Buf()[:0]; same rule as AppendString.
func (f *Frame) SetBytes(b []byte) { f.buf.B = b }

// Buf returns the frame's buffer for appending in place (f.SetBytes(
// append(f.Buf(), ...))); same rule as AppendString.
func (f *Frame) Buf() []byte { return f.buf.B }

// Retain adds n references.
func (f *Frame) Retain(n int32) {
	if f.buf != nil {
		f.refs.Add(n)
	}
}

// Release drops one reference; the last one recycles the frame.
func (f *Frame) Release() { f.ReleaseN(1) }

// ReleaseN drops n references at once (one atomic operation); the last one
// recycles the frame.
func (f *Frame) ReleaseN(n int32) {
	if f.buf == nil {
		return
	}
	switch n := f.refs.Add(-n); {
	case n == 0:
		bufPool.Put(f.buf)
		f.buf = nil
		f.ID = 0
		framePool.Put(f)
	case n < 0:
		panic("BUG: ring: frame released more often than retained")
	}
}
