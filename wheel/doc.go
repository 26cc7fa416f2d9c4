// Package wheel is a hashed timing wheel for the many short, often re-armed
// timers of an SSE server: per-connection heartbeats, header, idle and
// write-stall timeouts, token expiry and channel idle eviction. (A parked
// long-poll's timeout is a runtime timer: one per poll, armed once.)
//
// A Timer is embedded by value in the object it times, so arming, re-arming
// and stopping are O(1) and allocate nothing. The wheel never reads a clock:
// every time is an int64 of nanoseconds on a monotonic clock the caller picks
// (for example time.Since(start)), passed to New, Arm and Advance, so tests
// drive the clock themselves.
//
// A Wheel has one owner. It is not safe for concurrent use: one goroutine
// (for example an event loop) owns it, or callers guard it with their own
// mutex. It is modelled on nats-server's server/thw.
//
// # Layout
//
// The wheel is a power-of-two array of slots, each the head of an intrusive
// doubly-linked list of timers, plus one "due" list for timers armed with a
// deadline at or before the wheel's clock. A timer with deadline d lives in
// slot (d/tick) & (slots-1); timers whose deadline is one or more revolutions
// (slots*tick) away share the slot and are skipped until a visit at which
// they are due.
//
//	           now/tick & mask
//	                 v
//	slot:  [0]  [1]  [2]  [3]  [4]  [5]  [6]  [7]    due
//	        |         |              |                |
//	        A         C              E                G   deadline <= clock
//	        |         |
//	        B         D   (D is a revolution or more away: skipped, left in place)
//
//	list links:  slot head -> t.next -> t.next -> nil,  t.prev == nil at the head
//
// Advance(now) first moves the due list into the current slot, then visits the
// slots from the current tick to now/tick (at most one full revolution) and
// fires every timer whose deadline <= now. Its cost is the number of visited
// slots plus the timers in them.
package wheel
