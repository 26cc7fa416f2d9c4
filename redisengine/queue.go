package redisengine

import "sync"

// queue is an unbounded FIFO shared by a few worker goroutines. push never
// blocks, so the pub/sub reader can queue repairs and handlers can queue
// publishes without waiting; what bounds it is what feeds it (requests in
// flight are bounded by connections, repairs by mirrors). Safe for
// concurrent use.
type queue[T any] struct {
	mu     sync.Mutex
	cond   sync.Cond
	items  []T  // guarded by mu
	closed bool // guarded by mu
}

func newQueue[T any]() *queue[T] {
	q := &queue[T]{}
	q.cond.L = &q.mu
	return q
}

// push appends x; after close it is dropped.
func (q *queue[T]) push(x T) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, x)
		q.cond.Signal()
	}
	q.mu.Unlock()
}

// pop moves up to max items into buf[:0] and returns it, blocking while
// the queue is empty. It returns an empty slice once the queue is closed.
func (q *queue[T]) pop(buf []T, max int) []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.closed {
		q.cond.Wait()
	}
	n := min(len(q.items), max)
	buf = append(buf[:0], q.items[:n]...)
	clear(q.items[:n])
	q.items = q.items[n:]
	if len(q.items) == 0 {
		q.items = nil // let a burst's backing array go
	}
	return buf
}

// close wakes every worker and returns the items still queued, for the
// caller to fail; later pushes are dropped.
func (q *queue[T]) close() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	left := q.items
	q.closed = true
	q.items = nil
	q.cond.Broadcast()
	return left
}

// len returns the number of queued items.
func (q *queue[T]) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}
