package broker_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/workkit/realtime/broker"
)

// closedWithin reads from c until EOF and fails if that takes longer than
// limit (generous: these tests check behaviour, not speed).
func closedWithin(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit))
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatalf("connection not closed by the server within %v: %v", limit, err)
	}
	return time.Since(start)
}

func TestHeartbeat(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.Loop.Heartbeat = 300 * time.Millisecond })
	st := s.subscribe("hb")
	if f := st.next(); f != ": hb\n\n" {
		t.Fatalf("got %q, want a heartbeat", f)
	}
	// Writes push the heartbeat back: while events flow every 30ms, none comes.
	stop := time.Now().Add(time.Second)
	var last published
	for time.Now().Before(stop) {
		last = s.publish("hb", "e", "1")
		time.Sleep(30 * time.Millisecond)
	}
	for {
		f := st.next()
		if f == ": hb\n\n" {
			t.Fatal("heartbeat while events were flowing")
		}
		if strings.HasPrefix(f, fmt.Sprintf("id: %d\n", last.ID)) {
			break
		}
	}
	if f := st.next(); f != ": hb\n\n" {
		t.Fatalf("got %q after the events stopped, want a heartbeat", f)
	}
	waitFor(t, "both heartbeats to be counted", func() bool { return s.metric("realtime_heartbeats_total") >= 2 })
}

func TestHeaderTimeout(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.Loop.HeaderTimeout = 300 * time.Millisecond })
	silent := s.dial()
	partial := s.dial()
	io.WriteString(partial, "GET /sse/x HTTP/1.1\r\nHost: t\r\n")
	trickle := s.dial()
	go func() { // a slowloris: a byte every 50ms never completes the head in time
		for i := 0; i < 100; i++ {
			if _, err := trickle.Write([]byte("X")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	for _, c := range []net.Conn{silent, partial, trickle} {
		closedWithin(t, c, 5*time.Second)
	}
	waitFor(t, "three header timeouts counted", func() bool {
		return s.metric(`realtime_disconnects_total{reason="header_timeout"}`) == 3
	})
}

func TestIdleTimeout(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.Loop.IdleTimeout = 300 * time.Millisecond })
	c := s.dial()
	io.WriteString(c, get("/healthz"))
	if r := readResponse(t, bufio.NewReader(c)); r.status != 200 {
		t.Fatalf("healthz %d", r.status)
	}
	closedWithin(t, c, 5*time.Second)
	if n := s.metric(`realtime_disconnects_total{reason="idle_timeout"}`); n != 1 {
		t.Fatalf("idle timeouts counted: %v", n)
	}
	// A stream is not subject to the idle timeout.
	st := s.subscribe("long")
	time.Sleep(700 * time.Millisecond)
	p := s.publish("long", "e", "1")
	if got := st.nextEvent(); got != frame(p.ID, "e", "1") {
		t.Fatalf("stream after idle period: %q", got)
	}
}

// TestSlowSubscriberIsDisconnected is the acceptance test of the slow
// consumer limit: one subscriber never reads, one reads, and more than
// 1 MB is published.
func TestSlowSubscriberIsDisconnected(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.Loop.MaxPendingBytes = 256 << 10 })
	stalled := dialSmallBuffer(t, s.nodeAddr(0))
	io.WriteString(stalled, get("/sse/slow", bearerHeader(subToken(t))))
	reader := s.subscribe("slow")
	waitFor(t, "two subscribers", func() bool {
		return s.subscribers("slow") == 2
	})
	payload := fmt.Sprintf("%q", strings.Repeat("s", 1000))
	const events = 1500 // 1.5 MB
	got := make(chan string, events)
	go func() {
		defer close(got)
		for i := 0; i < events; i++ {
			got <- reader.nextEvent()
		}
	}()
	var ids []uint64
	for i := 0; i < events; i++ {
		ids = append(ids, s.publish("slow", "e", payload).ID)
	}
	for _, id := range ids {
		if f := <-got; f != frame(id, "e", payload) {
			t.Fatalf("reader: got %.40q, want event %d", f, id)
		}
	}
	waitFor(t, "the slow subscriber to be disconnected", func() bool {
		return s.metric(`realtime_disconnects_total{reason="slow_consumer"}`) == 1
	})
	if n := s.subscribers("slow"); n != 1 {
		t.Fatalf("subscribers after eviction: %d", n)
	}
}

func TestWriteStallTimeout(t *testing.T) {
	s := startServer(t, func(c *broker.Config) {
		c.Loop.WriteStallTimeout = 400 * time.Millisecond
		c.Loop.MaxPendingBytes = 64 << 20
	})
	stalled := dialSmallBuffer(t, s.nodeAddr(0))
	io.WriteString(stalled, get("/sse/stall", bearerHeader(subToken(t))))
	waitFor(t, "the subscriber", func() bool {
		return s.subscribers("stall") == 1
	})
	payload := fmt.Sprintf("%q", strings.Repeat("w", 4000))
	for i := 0; i < 200; i++ { // 800 KB: far beyond the socket buffers, below the pending limit
		s.publish("stall", "e", payload)
	}
	waitFor(t, "the stalled subscriber to time out", func() bool {
		return s.metric(`realtime_disconnects_total{reason="write_stall"}`) == 1
	})
	if n := s.metric(`realtime_disconnects_total{reason="slow_consumer"}`); n != 0 {
		t.Fatalf("closed as slow consumer instead: %v", n)
	}
}

func TestStreamClosesWhenTokenExpires(t *testing.T) {
	s := startServer(t, nil)
	// JWT exp has one-second resolution.
	st := s.subscribe("exp", bearerHeader(token(t, []string{"*"}, nil, 1500*time.Millisecond)))
	took := closedWithin(t, st.c, 10*time.Second)
	if took < 300*time.Millisecond {
		t.Fatalf("closed after %v, before the token expired", took)
	}
	waitFor(t, "the expiry to be counted", func() bool {
		return s.metric(`realtime_disconnects_total{reason="expired"}`) == 1
	})
}

func TestChannelEvictionStartsNewIncarnation(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.Channel.IdleTTL = 200 * time.Millisecond })
	first := s.subscribe("ev") // held by a node while it has a subscriber
	old := s.publish("ev", "e", "1")
	first.nextEvent()
	first.c.Close()
	waitFor(t, "the channel to be evicted", func() bool { return s.subscribers("ev") < 0 })
	st := s.subscribe("ev", fmt.Sprintf("Last-Event-ID: %d\r\n", old.ID))
	f := st.nextEvent()
	want := fmt.Sprintf(",\"lastKnownId\":%d}\n\n", old.ID)
	if !strings.HasPrefix(f, "event: realtime.reset\nid: ") || !strings.Contains(f, `"reason":"buffer_gap"`) || !strings.HasSuffix(f, want) {
		t.Fatalf("got %q, want a buffer_gap reset", f)
	}
	if p := s.publish("ev", "e", "2"); p.ID <= old.ID+1 {
		t.Fatalf("id %d of the new incarnation is not above the old %d", p.ID, old.ID)
	}
	if s.metric("realtime_channel_evictions_total") < 1 {
		t.Fatal("eviction not counted")
	}
}

// TestGracefulShutdown: streams get a jittered retry hint and a clean end,
// a publish in flight is answered, and new connections are refused.
func TestGracefulShutdown(t *testing.T) {
	s := startServer(t, nil)
	streams := []*stream{s.subscribe("bye"), s.subscribe("bye")}
	pubConn := s.dial()
	br := bufio.NewReader(pubConn)
	io.WriteString(pubConn, post("/publish/bye", `{"event":"e","data":1}`, bearerHeader(pubToken(t))))
	if r := readResponse(t, br); r.status != 200 {
		t.Fatalf("publish %d", r.status)
	}
	for _, st := range streams { // on Redis the answer can come before the event reaches the node's mirror
		st.nextEvent() // the event published above
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.shutdown(ctx) }()
	for _, st := range streams {
		var ms int
		f := st.next()
		if _, err := fmt.Sscanf(f, "retry: %d\n\n", &ms); err != nil || ms < 1000 || ms >= 3000 {
			t.Fatalf("goodbye frame %q, want retry in [1000,3000)", f)
		}
		closedWithin(t, st.c, 5*time.Second)
	}
	closedWithin(t, pubConn, 5*time.Second)
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if c, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _ := c.Read(make([]byte, 1))
		c.Close()
		if n > 0 {
			t.Fatal("a new connection was served after shutdown")
		}
	}
}

// TestIdleTimeoutAfterLongPoll: a keep-alive connection that served a
// long-poll is subject to the idle timeout again afterwards.
func TestIdleTimeoutAfterLongPoll(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.Loop.IdleTimeout = 300 * time.Millisecond })
	c := s.dial()
	io.WriteString(c, get("/poll/lpi?wait=1", bearerHeader(subToken(t))))
	if r := readResponse(t, bufio.NewReader(c)); r.status != 200 {
		t.Fatalf("poll: %d %s", r.status, r.body)
	}
	closedWithin(t, c, 5*time.Second)
}
