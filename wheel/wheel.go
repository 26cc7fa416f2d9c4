package wheel

import (
	"math/bits"
	"time"
)

// Timer is one deadline in a Wheel. Embed it by value in the object it times
// (a connection, a channel) so that arming allocates nothing. The
// zero value is an unarmed timer. While armed, the wheel holds pointers to it,
// so the object must not be copied or reused for something else until the
// timer has fired or been stopped. A Timer belongs to at most one Wheel at a
// time and, like the Wheel, is not safe for concurrent use.
type Timer[T any] struct {
	// Value is the owner's payload, typically a pointer back to the object
	// that embeds the Timer. It is set by the owner; the wheel never reads it.
	Value T

	prev, next *Timer[T] // neighbours in the list of slot; nil at either end
	wheel      *Wheel[T] // wheel the timer is armed in; nil when not armed
	deadline   int64     // when the timer is due, in the wheel's nanoseconds
	slot       int       // index into wheel.lists while armed
}

// Armed reports whether t is scheduled in a wheel.
func (t *Timer[T]) Armed() bool { return t.wheel != nil }

// Deadline returns when t is due, as last passed to Arm. It is meaningful only
// while t is armed (and inside the fire callback that disarmed it).
func (t *Timer[T]) Deadline() int64 { return t.deadline }

// Wheel schedules Timers at tick granularity and fires them from Advance.
// It is not safe for concurrent use: all methods must be called by the owning
// goroutine, or under the caller's own mutex.
type Wheel[T any] struct {
	// lists holds the list heads: lists[0..mask] are the slots, lists[mask+1]
	// is the due list of timers armed with a deadline <= now.
	lists  []*Timer[T]
	mask   int64     // slots-1; slots is a power of two; immutable
	tick   int64     // granularity in nanoseconds, > 0; immutable
	now    int64     // clock; every slotted timer has deadline > now
	count  int       // armed timers, in all lists
	cursor *Timer[T] // next timer Advance will look at; unlink moves it on
	firing bool      // Advance is running; it must not be re-entered
}

// New returns a wheel whose clock starts at now, with the given tick
// (granularity, > 0) and slot count, rounded up to a power of two. A
// revolution is slots*tick; choose it to cover the common deadlines (for
// example 4096 slots of 10ms for 30s heartbeats) so that timers are rarely
// skipped over. New panics if tick is not positive.
func New[T any](tick time.Duration, slots int, now int64) *Wheel[T] {
	if tick <= 0 {
		panic("wheel: tick must be positive")
	}
	n := 1
	if slots > 1 {
		n = 1 << bits.Len(uint(slots-1))
	}
	return &Wheel[T]{
		lists: make([]*Timer[T], n+1),
		mask:  int64(n - 1),
		tick:  int64(tick),
		now:   now,
	}
}

// Len returns the number of armed timers.
func (w *Wheel[T]) Len() int { return w.count }

// Arm schedules t to fire at deadline. If t is already armed in w it is moved
// (reset semantics); either way the cost is O(1) with no allocation. A
// deadline at or before the wheel's clock fires on the next Advance. Arming a
// timer that is armed in another wheel panics.
func (w *Wheel[T]) Arm(t *Timer[T], deadline int64) {
	switch t.wheel {
	case nil:
		t.wheel = w
		w.count++
	case w:
		w.unlink(t)
	default:
		panic("BUG: wheel: timer is armed in another wheel")
	}
	t.deadline = deadline
	w.push(t, w.slotOf(deadline))
}

// Stop disarms t and reports whether it was armed. It is O(1). Stopping a
// timer that is armed in another wheel panics.
func (w *Wheel[T]) Stop(t *Timer[T]) bool {
	switch t.wheel {
	case nil:
		return false
	case w:
		w.remove(t)
		return true
	default:
		panic("BUG: wheel: timer is armed in another wheel")
	}
}

// Advance moves the clock to now and calls fire for every timer whose
// deadline <= now. Each timer is disarmed before fire sees it, so fire may
// re-arm it, arm other timers or stop them; a timer stopped before it is
// visited does not fire, and a timer armed from fire with a deadline <= now
// fires on the next Advance, not this one. fire must not call Advance.
//
// Order: first the timers that were already due (armed with a deadline at or
// before the previous clock), then slot by slot in tick order, so timers in
// different ticks fire in deadline order. Within a slot the order is
// unspecified. If now is a revolution (slots*tick) or more past the clock,
// each slot is visited once, starting with the current one, and timers from
// different revolutions may fire out of order.
//
// If now is before the clock, Advance does nothing. The cost is the number of
// visited slots (at most slots) plus the timers in them.
func (w *Wheel[T]) Advance(now int64, fire func(*Timer[T])) {
	if now < w.now {
		return
	}
	if w.firing {
		panic("BUG: wheel: Advance called from inside fire")
	}
	first, last := w.now/w.tick, now/w.tick
	w.spliceDue(first)
	w.now = now
	if w.count == 0 {
		return
	}
	w.firing = true
	defer w.endAdvance()
	visits := min(last-first+1, w.mask+1)
	for i := int64(0); i < visits && w.count > 0; i++ {
		w.visit(int((first+i)&w.mask), now, fire)
	}
}

// NextDeadline returns the earliest armed deadline, or false if no timer is
// armed. It scans slots from the current tick until it finds a timer due
// within the current revolution, so it costs O(slots + timers in the scanned
// slots), up to O(slots + Len). Use it for tests and for deciding how long to
// sleep, not per event.
func (w *Wheel[T]) NextDeadline() (int64, bool) {
	if w.count == 0 {
		return 0, false
	}
	if due := w.lists[len(w.lists)-1]; due != nil {
		// Due timers are at or before the clock; slotted ones are after it.
		return minDeadline(due, due.deadline), true
	}
	first := w.now / w.tick
	best, found := int64(0), false
	for i := int64(0); i <= w.mask; i++ {
		tick := first + i
		current := false // some timer in this slot is due in this revolution
		for t := w.lists[tick&w.mask]; t != nil; t = t.next {
			if !found || t.deadline < best {
				best, found = t.deadline, true
			}
			current = current || t.deadline/w.tick == tick
		}
		if current {
			break
		}
	}
	return best, found
}

// minDeadline returns the smallest of best and the deadlines in list t.
func minDeadline[T any](t *Timer[T], best int64) int64 {
	for ; t != nil; t = t.next {
		best = min(best, t.deadline)
	}
	return best
}

// slotOf returns the list a timer with this deadline belongs in.
func (w *Wheel[T]) slotOf(deadline int64) int {
	if deadline <= w.now {
		return len(w.lists) - 1
	}
	return int(deadline / w.tick & w.mask)
}

// visit fires the due timers of one slot and leaves the others in place.
// w.cursor is the next timer to look at, so fire may unlink any timer.
func (w *Wheel[T]) visit(slot int, now int64, fire func(*Timer[T])) {
	w.cursor = w.lists[slot]
	for w.cursor != nil {
		t := w.cursor
		w.cursor = t.next
		if t.deadline <= now {
			w.remove(t)
			fire(t)
		}
	}
}

// endAdvance resets the Advance state, even if fire panicked.
func (w *Wheel[T]) endAdvance() {
	w.cursor = nil
	w.firing = false
}

// spliceDue moves every timer of the due list into the slot of tick, which
// Advance visits first.
func (w *Wheel[T]) spliceDue(tick int64) {
	due := len(w.lists) - 1
	slot := int(tick & w.mask)
	for t := w.lists[due]; t != nil; {
		next := t.next
		w.push(t, slot)
		t = next
	}
	w.lists[due] = nil
}

// remove disarms t, which is armed in w.
func (w *Wheel[T]) remove(t *Timer[T]) {
	w.unlink(t)
	t.wheel = nil
	w.count--
}

// push links t at the head of list slot.
func (w *Wheel[T]) push(t *Timer[T], slot int) {
	head := w.lists[slot]
	t.slot, t.prev, t.next = slot, nil, head
	if head != nil {
		head.prev = t
	}
	w.lists[slot] = t
}

// unlink takes t out of its list, moving the Advance cursor past it.
func (w *Wheel[T]) unlink(t *Timer[T]) {
	if t == w.cursor {
		w.cursor = t.next
	}
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		w.lists[t.slot] = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	}
	t.prev, t.next = nil, nil
}
