package loop

import "sync"

// flushQueue hands dirty connections to the flusher goroutines. A
// connection is in it at most once (Conn.queued), so its length is bounded
// by the number of connections, and everything queued on a connection
// before a flusher reaches it leaves in one write.
type flushQueue struct {
	mu      sync.Mutex
	cond    sync.Cond
	conns   []*Conn // guarded by mu; FIFO from head
	head    int     // guarded by mu
	waiting int     // guarded by mu; flushers blocked in pop
	closed  bool    // guarded by mu
}

func newFlushQueue() *flushQueue {
	q := &flushQueue{}
	q.cond.L = &q.mu
	return q
}

// push appends c and wakes a flusher if one sleeps.
func (q *flushQueue) push(c *Conn) {
	q.mu.Lock()
	q.conns = append(q.conns, c)
	if q.waiting > 0 {
		q.cond.Signal()
	}
	q.mu.Unlock()
}

// pop moves up to len(batch) connections into batch, blocking while the
// queue is empty. It returns 0 once the queue is closed and drained.
func (q *flushQueue) pop(batch []*Conn) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.head == len(q.conns) {
		if q.closed {
			return 0
		}
		q.waiting++
		q.cond.Wait()
		q.waiting--
	}
	n := copy(batch, q.conns[q.head:])
	clear(q.conns[q.head : q.head+n])
	q.head += n
	switch {
	case q.head == len(q.conns):
		q.conns, q.head = q.conns[:0], 0
	case q.head > 1024 && q.head > len(q.conns)/2: // never empty: compact
		m := copy(q.conns, q.conns[q.head:])
		clear(q.conns[m:])
		q.conns, q.head = q.conns[:m], 0
	}
	return n
}

// close wakes every flusher; they return once the queue is drained.
func (q *flushQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// flusher writes dirty connections until the queue closes. Each pass takes
// a small batch so that both flushers share a large fan-out.
func (s *Server) flusher() {
	defer s.wg.Done()
	sc := new(flushScratch)
	var batch [32]*Conn
	for {
		n := s.flushq.pop(batch[:])
		if n == 0 {
			return
		}
		for i, c := range batch[:n] {
			c.flush(sc)
			batch[i] = nil
		}
		sc.finish(&s.stats)
	}
}
