// Package ring keeps the replay buffer of a channel: a fixed-capacity ring of
// pre-framed events with consecutive ids, looked up by id in O(1).
package ring

import "errors"

// ErrEvicted reports that an id is older than the oldest buffered event.
var ErrEvicted = errors.New("ring: id evicted")

// Ring holds the newest Cap() frames of one channel, oldest first. The frames'
// ids must be consecutive: each pushed frame's ID is the previous one's + 1.
// The ring holds one reference to each frame it stores.
//
// Ring is not safe for concurrent use; a Channel guards it with its mutex.
type Ring struct {
	frames []*Frame // circular once full; grows up to capacity before that
	head   int      // index of the oldest frame in frames
	size   int      // number of stored frames
	limit  int      // capacity
	cost   int64    // sum of Cost() of the stored frames
}

// New returns an empty ring that keeps at most capacity frames (0 keeps none).
func New(capacity int) *Ring {
	if capacity < 0 {
		capacity = 0
	}
	return &Ring{limit: capacity}
}

// Len is the number of stored frames.
func (r *Ring) Len() int { return r.size }

// Cost is the memory the stored frames hold (the sum of their Cost).
func (r *Ring) Cost() int64 { return r.cost }

// Push stores f, taking over the caller's reference to it. When the ring is
// full the oldest frame leaves it and is returned, and the caller must
// Release it (outside any lock, if it likes); otherwise Push returns nil.
// With capacity 0, f itself is returned.
func (r *Ring) Push(f *Frame) (evicted *Frame) {
	if r.size > 0 && f.ID != r.at(r.size-1).ID+1 {
		panic("BUG: ring: ids must be consecutive")
	}
	if r.limit == 0 {
		return f
	}
	r.cost += f.Cost()
	if r.size < r.limit {
		r.pushBack(f)
		return nil
	}
	evicted = r.frames[r.head]
	r.cost -= evicted.Cost()
	r.frames[r.head] = f
	r.head = (r.head + 1) % len(r.frames)
	return evicted
}

// pushBack stores f after the newest frame of a ring below capacity,
// growing frames when no slot is free.
func (r *Ring) pushBack(f *Frame) {
	switch {
	case r.size < len(r.frames):
		r.frames[(r.head+r.size)%len(r.frames)] = f
	case r.head == 0:
		r.frames = append(r.frames, f)
	default: // full after DropOldest wrapped it: unwrap, then grow
		r.frames = append(append(make([]*Frame, 0, r.size+1), r.frames[r.head:]...), r.frames[:r.head]...)
		r.frames, r.head = append(r.frames, f), 0
	}
	r.size++
}

// DropOldest removes the oldest frame and returns it (nil when empty); the
// caller must Release it. The ring then answers ErrEvicted for ids before
// the new oldest frame, as if it had been pushed out.
func (r *Ring) DropOldest() *Frame {
	if r.size == 0 {
		return nil
	}
	f := r.frames[r.head]
	r.frames[r.head] = nil
	r.cost -= f.Cost()
	r.head = (r.head + 1) % len(r.frames)
	r.size--
	if r.size == 0 {
		r.frames, r.head = r.frames[:0], 0
	}
	return f
}

// Oldest returns the id of the oldest stored frame.
func (r *Ring) Oldest() (id uint64, ok bool) {
	if r.size == 0 {
		return 0, false
	}
	return r.at(0).ID, true
}

// Newest returns the id of the newest stored frame.
func (r *Ring) Newest() (id uint64, ok bool) {
	if r.size == 0 {
		return 0, false
	}
	return r.at(r.size - 1).ID, true
}

// After calls fn, oldest first, for every stored frame whose id is greater
// than id. It returns ErrEvicted, calling fn for nothing, when frames after
// id have already left the ring (id+1 is older than the oldest frame).
// fn must not modify the ring.
func (r *Ring) After(id uint64, fn func(*Frame)) error {
	if r.size == 0 {
		return nil
	}
	oldest := r.at(0).ID
	if id+1 < oldest {
		return ErrEvicted
	}
	for i := int(id + 1 - oldest); i < r.size; i++ {
		fn(r.at(i))
	}
	return nil
}

// Clear releases every stored frame and empties the ring.
func (r *Ring) Clear() {
	for i := 0; i < r.size; i++ {
		r.at(i).Release()
	}
	clear(r.frames)
	r.frames, r.head, r.size, r.cost = r.frames[:0], 0, 0, 0
}

// at returns the i-th oldest frame, 0 <= i < r.size.
func (r *Ring) at(i int) *Frame {
	return r.frames[(r.head+i)%len(r.frames)]
}
