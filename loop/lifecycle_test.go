package loop

import (
	"io"
	"testing"
	"time"

	"github.com/workkit/realtime/wheel"
)

// TestHeartbeatFiringAtCloseDoesNotRearm: a heartbeat that fires while its
// connection closes must not arm the timer of the closed connection again
// (it would stay in the wheel, and keep the Conn reachable, forever).
func TestHeartbeatFiringAtCloseDoesNotRearm(t *testing.T) {
	s := manualTimers(t, func(c *Config) { c.Heartbeat = time.Second })
	tm := s.timers
	tm.advance(0)
	c, peer := pipeConn(t, s)
	go io.Copy(io.Discard, peer)
	c.StartStream(nil)

	// The timer goroutine collects the due heartbeat ...
	now := int64(2 * time.Second)
	tm.clock.Store(now)
	var fired []*wheel.Timer[*Conn]
	tm.mu.Lock()
	tm.wheel.Advance(now, func(x *wheel.Timer[*Conn]) { fired = append(fired, x) })
	tm.mu.Unlock()
	if len(fired) != 1 {
		t.Fatalf("%d timers fired, want the heartbeat", len(fired))
	}
	// ... the connection closes before the handler runs ...
	_ = c.onNetpollClose(nil)
	// ... and then the handler runs.
	tm.expire(fired[0], now)

	tm.mu.Lock()
	armed, n := c.timer.Armed(), tm.wheel.Len()
	tm.mu.Unlock()
	if armed || n != 0 {
		t.Fatalf("closed connection: timer armed %v, %d timers in the wheel; want none", armed, n)
	}
}

// TestStartStreamAfterCloseCountsNothing: a stream started after its
// client left (an authorization that answered late) runs its cleanup at
// once and never enters the open-streams gauge.
func TestStartStreamAfterCloseCountsNothing(t *testing.T) {
	for _, st := range []connState{stateClosing, stateClosed} {
		s := testServer(t, nil)
		c, _ := pipeConn(t, s)
		c.ws = writeQueued // keep the flushers away from this netpoll-less Conn
		c.st.Store(uint32(st))
		cleanups := 0
		c.StartStream(func() { cleanups++ })
		if cleanups != 1 || s.stats.Streams.Load() != 0 || c.state() != st {
			t.Fatalf("StartStream when %v: cleanups %d, streams %d, state %v; want 1, 0, unchanged",
				st, cleanups, s.stats.Streams.Load(), c.state())
		}
	}
}

// TestCloseCallbackCountsStreamOnce: the gauge goes up once per stream and
// down once when it closes, whoever closes first.
func TestCloseCallbackCountsStreamOnce(t *testing.T) {
	s := testServer(t, nil)
	c, _ := pipeConn(t, s)
	cleanups := 0
	c.StartStream(func() { cleanups++ })
	if s.stats.Streams.Load() != 1 {
		t.Fatalf("streams %d after StartStream", s.stats.Streams.Load())
	}
	_ = c.onNetpollClose(nil)
	c.StartStream(func() { cleanups++ }) // late: runs at once, counts nothing
	if s.stats.Streams.Load() != 0 || cleanups != 2 {
		t.Fatalf("streams %d cleanups %d after close, want 0 and 2", s.stats.Streams.Load(), cleanups)
	}
}

// TestStateTransitions walks the diagram of conn_state.go.
func TestStateTransitions(t *testing.T) {
	s := testServer(t, nil)
	c, _ := pipeConn(t, s)
	c.ws = writeQueued // keep the flushers away
	step := func(what string, do func(), want connState) {
		t.Helper()
		do()
		if got := c.state(); got != want {
			t.Fatalf("%s: state %v, want %v", what, got, want)
		}
	}
	step("Defer", c.Defer, stateDeferred)
	step("Resume", c.Resume, stateRequest)
	step("Defer again", c.Defer, stateDeferred)
	step("Undefer", c.Undefer, stateRequest)
	step("StartStream", func() { c.StartStream(nil) }, stateStream)
	step("Defer on a stream", c.Defer, stateStream)
	step("endAfterReply", func() { c.endAfterReply(CloseShutdown) }, stateEnding)
	step("Defer when ending", c.Defer, stateEnding)
	step("Close", func() { c.Close(CloseWriteError) }, stateClosing)
	step("endAfterReply when closing", func() { c.endAfterReply(CloseResponse) }, stateClosing)
	if c.closeReason() != CloseShutdown {
		t.Fatalf("reason %v, want the first one given (shutdown)", c.closeReason())
	}
	if c.Send(frameOf("x")) || c.Replay(frameOf("y")) {
		t.Fatal("a closing connection accepted a frame")
	}
	step("close callback", func() { _ = c.onNetpollClose(nil) }, stateClosed)
}

// TestCloseCutsAStallShort: a stalled connection is handed to a flusher
// by Close (nothing else schedules a stalled one).
func TestCloseCutsAStallShort(t *testing.T) {
	s := testServer(t, nil)
	c, _ := pipeConn(t, s)
	c.ws = writeStalled
	c.mu.Lock()
	if c.scheduleLocked() {
		t.Fatal("a stalled connection was scheduled")
	}
	c.setStateLocked(stateClosing)
	if !c.scheduleLocked() || c.ws != writeQueued {
		t.Fatal("a closing stalled connection was not scheduled")
	}
	c.mu.Unlock()
}

// TestWholeDeliveriesAreNotABacklog: a replay larger than MaxPendingBytes
// is queued whole; the limit applies to live frames queued beyond it.
func TestWholeDeliveriesAreNotABacklog(t *testing.T) {
	s := testServer(t, func(c *Config) { c.MaxPendingBytes = 100 })
	c := &Conn{srv: s, ws: writeQueued} // socket-less: nobody flushes it
	for i := 0; i < 10; i++ {
		if !c.Replay(frameOf(string(make([]byte, 50)))) {
			t.Fatalf("replay frame %d refused", i)
		}
	}
	if !c.Send(frameOf(string(make([]byte, 100)))) {
		t.Fatal("a live frame within the limit beyond the replay was refused")
	}
	if c.Send(frameOf("x")) || c.state() != stateClosing || c.closeReason() != CloseSlowConsumer {
		t.Fatalf("one byte over the limit: state %v reason %v, want a slow-consumer close", c.state(), c.closeReason())
	}
}

// TestEndQueuesLastFrameOnce: End queues its frame whole past the backlog
// limit, ends the stream (revoked) and refuses a second time; on a
// connection that is not a stream it does nothing.
func TestEndQueuesLastFrameOnce(t *testing.T) {
	s := testServer(t, func(c *Config) { c.MaxPendingBytes = 4 })
	c, _ := pipeConn(t, s)
	c.ws = writeQueued // keep the flushers away
	if c.End(frameOf("early")) || c.state() != stateRequest {
		t.Fatalf("End before StartStream: state %v, want it refused", c.state())
	}
	c.StartStream(nil)
	if !c.End(frameOf("last words")) {
		t.Fatal("End on a stream refused")
	}
	if c.state() != stateEnding || c.closeReason() != CloseRevoked || c.pending != len("last words") {
		t.Fatalf("after End: state %v reason %v pending %d", c.state(), c.closeReason(), c.pending)
	}
	if c.End(frameOf("again")) || c.Send(frameOf("x")) {
		t.Fatal("an ended stream accepted a frame")
	}
	_ = c.onNetpollClose(nil)
}
