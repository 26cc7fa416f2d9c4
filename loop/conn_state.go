package loop

// connState is where a connection is in its life. It only moves forward,
// except between request and deferred:
//
//	          Defer               Resume
//	request ----------> deferred ----------> request
//	   |   \               |
//	   |    \ StartStream  | StartStream (authorized on another goroutine)
//	   |     v             v
//	   |      stream <-----+
//	   |        |
//	   |        | endAfterReply: a reply without keep-alive, a rejected
//	   |        | request, a shutdown drain; End: a revocation's last frame
//	   v        v
//	    ending       no further input is served; FIN once the queue is written
//	      |
//	      | Close(reason), from any state above: the queue is dropped
//	      v
//	    closing      a flusher calls netpoll's Close at its next turn
//	      |
//	      | netpoll's close callback, from any state
//	      v
//	    closed       terminal: nothing is queued or written any more
//
// The state is written only under Conn.mu, by the transition helpers of
// this file, and may be read without it (an atomic load) where a stale
// value is harmless.
type connState uint32

const (
	stateRequest  connState = iota // serving requests
	stateDeferred                  // a reply is owed by another goroutine (Defer); no request is served meanwhile
	stateStream                    // an event stream: input is discarded, heartbeats are sent
	stateEnding                    // closes gracefully once its queue is written
	stateClosing                   // closes at once
	stateClosed                    // the close callback ran
)

var stateNames = [...]string{"request", "deferred", "stream", "ending", "closing", "closed"}

func (s connState) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// serving reports whether requests are read and dispatched in state s.
func (s connState) serving() bool { return s == stateRequest }

// accepting reports whether frames may still be queued in state s.
func (s connState) accepting() bool { return s <= stateStream }

// writeState says who owns the connection's queue: nobody (idle), a
// flusher or the handler writing it (queued), or the write poller waiting
// for the socket to drain (stalled). Guarded by Conn.mu.
type writeState uint8

const (
	writeIdle    writeState = iota // nothing to write, or nobody asked yet
	writeQueued                    // in the flush queue or being flushed: its owner writes everything queued meanwhile
	writeStalled                   // socket full: waits for EPOLLOUT (or a close, which cuts the wait short)
)

// state returns the lifecycle state.
func (c *Conn) state() connState { return connState(c.st.Load()) }

// setStateLocked moves c to s. mu is held.
func (c *Conn) setStateLocked(s connState) { c.st.Store(uint32(s)) }

// scheduleLocked is the one place that decides whether c must be handed to
// a flusher now: when nobody owns its queue and it has something to write
// or to close, or when it is closing (which cuts a stall short). It marks
// c queued and reports true; the caller then pushes c to the flush queue,
// or flushes it itself, after releasing mu. mu is held.
func (c *Conn) scheduleLocked() bool {
	st := c.state()
	switch {
	case st == stateClosed || c.ws == writeQueued:
		return false
	case c.ws == writeStalled && st != stateClosing:
		return false
	case len(c.queue) == 0 && st < stateEnding:
		return false
	}
	c.ws = writeQueued
	return true
}

// schedule hands c to a flusher if scheduleLocked says so. mu is not held.
func (c *Conn) schedule() {
	c.mu.Lock()
	push := c.scheduleLocked()
	c.mu.Unlock()
	if push {
		c.srv.flushq.push(c)
	}
}
