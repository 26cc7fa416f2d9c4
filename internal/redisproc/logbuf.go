package redisproc

import (
	"io"
	"strings"
	"sync"
)

// tailSize is how much of a server's log a tailBuffer keeps.
const tailSize = 32 << 10

// tailBuffer keeps the last tailSize bytes of a log, for error messages.
// It is safe for concurrent use.
type tailBuffer struct {
	mu    sync.Mutex
	buf   []byte // the newest bytes written, at most 2*tailSize; guarded by mu
	total int64  // bytes ever written; guarded by mu
}

// Write appends p, dropping the oldest bytes beyond tailSize.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	b.total += int64(len(p))
	if len(b.buf) > 2*tailSize {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-tailSize:]...)
	}
	return len(p), nil
}

// mark is the position of the next byte to be written, for since.
func (b *tailBuffer) mark() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// since returns what was written after mark (as much of it as is kept).
func (b *tailBuffer) since(mark int64) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.total - mark
	if n > int64(len(b.buf)) {
		n = int64(len(b.buf))
	}
	return string(b.buf[len(b.buf)-int(n):])
}

// String returns the kept tail, at most tailSize bytes, from a line start.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	s := string(b.buf)
	b.mu.Unlock()
	if len(s) > tailSize {
		s = s[len(s)-tailSize:]
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	return s
}

// lockedWriter serializes writes to w, which several servers of a cluster
// share. It is safe for concurrent use.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer // guarded by mu
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
