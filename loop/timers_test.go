package loop

import (
	"io"
	"testing"
	"time"
)

// manualTimers returns a server whose timer goroutine is stopped, so the
// test drives the connection wheel with its own clock (advance).
func manualTimers(t *testing.T, mutate func(*Config)) *Server {
	t.Helper()
	s := testServer(t, mutate)
	s.timers.stop()
	return s
}

func TestHeartbeatIsLazyAndResetByWrites(t *testing.T) {
	s := manualTimers(t, func(c *Config) { c.Heartbeat = 30 * time.Second })
	tm := s.timers
	tm.advance(0)
	c, peer := pipeConn(t, s)
	go io.Copy(io.Discard, peer)
	c.st.Store(uint32(stateStream))
	tm.streamStarted(c) // due at 30s

	sec := int64(time.Second)
	c.lastWrite.Store(20 * sec) // a write at 20s pushes the heartbeat to 50s
	tm.advance(31 * sec)
	if n := s.stats.Heartbeats.Load(); n != 0 {
		t.Fatalf("heartbeat at 31s although the last write was at 20s")
	}
	if d := c.timer.Deadline(); d != 50*sec {
		t.Fatalf("re-armed at %v, want 50s", time.Duration(d))
	}
	tm.advance(50 * sec)
	if n := s.stats.Heartbeats.Load(); n != 1 {
		t.Fatalf("heartbeats at 50s: %d, want 1", n)
	}
	if d := c.timer.Deadline(); d != 80*sec {
		t.Fatalf("next heartbeat at %v, want 80s", time.Duration(d))
	}
}

func TestHeaderAndIdleTimeoutsClose(t *testing.T) {
	s := manualTimers(t, func(c *Config) { c.HeaderTimeout = 10 * time.Second; c.IdleTimeout = 60 * time.Second })
	tm := s.timers
	tm.advance(0)
	sec := int64(time.Second)
	fresh, _ := pipeConn(t, s) // header timeout from accept
	idle, _ := pipeConn(t, s)
	tm.requestsServed(idle, false)               // served a request: idle timeout
	fresh.ws, idle.ws = writeQueued, writeQueued // keep the flushers from closing these netpoll-less conns
	tm.advance(11 * sec)
	if fresh.closeReason() != CloseHeaderTimeout || fresh.state() != stateClosing {
		t.Fatalf("fresh connection at 11s: reason %v closeReq %v", fresh.closeReason(), fresh.state() == stateClosing)
	}
	if idle.state() == stateClosing {
		t.Fatal("idle connection closed before its idle timeout")
	}
	tm.advance(61 * sec)
	if idle.closeReason() != CloseIdleTimeout || idle.state() != stateClosing {
		t.Fatalf("idle connection at 61s: reason %v", idle.closeReason())
	}
}

// TestPartialRequestKeepsItsDeadline: bytes trickling in do not extend the
// header timeout.
func TestPartialRequestKeepsItsDeadline(t *testing.T) {
	s := manualTimers(t, func(c *Config) { c.HeaderTimeout = 10 * time.Second })
	tm := s.timers
	tm.advance(0)
	c, _ := pipeConn(t, s)
	c.ws = writeQueued
	sec := int64(time.Second)
	for now := int64(0); now < 10*sec; now += sec {
		tm.advance(now)
		tm.requestsServed(c, true) // more bytes of the same head
	}
	if d := c.timer.Deadline(); d != 10*sec {
		t.Fatalf("deadline moved to %v", time.Duration(d))
	}
	tm.advance(10 * sec)
	if c.closeReason() != CloseHeaderTimeout {
		t.Fatalf("reason %v, want header timeout", c.closeReason())
	}
}

func TestWriteStallCountsFromLastProgress(t *testing.T) {
	s := manualTimers(t, func(c *Config) { c.WriteStallTimeout = 30 * time.Second; c.Heartbeat = 5 * time.Second })
	tm := s.timers
	tm.advance(0)
	c, _ := pipeConn(t, s)
	c.st.Store(uint32(stateStream))
	tm.streamStarted(c)
	sec := int64(time.Second)
	c.lastWrite.Store(2 * sec)
	c.mu.Lock()
	c.ws = writeStalled // as flush leaves it on EAGAIN
	c.mu.Unlock()
	tm.stalled(c)
	tm.advance(20 * sec)
	if c.state() == stateClosing {
		t.Fatal("closed before the stall timeout")
	}
	c.lastWrite.Store(25 * sec) // some progress
	tm.advance(32 * sec)
	if c.state() == stateClosing {
		t.Fatal("closed although the socket made progress at 25s")
	}
	tm.advance(55 * sec)
	if c.state() != stateClosing || c.closeReason() != CloseWriteStall {
		t.Fatalf("at 55s: closing %v reason %v, want write stall", c.state() == stateClosing, c.closeReason())
	}
}
