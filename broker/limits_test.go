package broker_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workkit/realtime/broker"
)

// TestMaxChannels: past --max-channels (a limit of each node), a request
// that would make the node hold one more channel gets 503 with
// Retry-After; held channels keep working.
func TestMaxChannels(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.Channel.MaxChannels = 20 }).node0()
	sub := bearerHeader(subToken(t))
	for i := 0; i < 20; i++ {
		if r := s.do(get(fmt.Sprintf("/poll/team:42:%d", i), sub)); r.status != 200 {
			t.Fatalf("poll %d: %d %s", i, r.status, r.body)
		}
	}
	over := []string{get("/poll/team:42:x", sub), get("/sse/team:42:x", sub)}
	pub := post("/publish/team:42:x", `{"event":"e","data":1}`, bearerHeader(pubToken(t)))
	if s.publishHolds() {
		over = append(over, pub)
	} else if r := s.do(pub); r.status != 200 { // it goes to Redis: nothing held here
		t.Fatalf("publish to a channel this node does not hold: %d %s", r.status, r.body)
	}
	for _, req := range over {
		if r := s.do(req); r.status != 503 || r.header.Get("Retry-After") == "" {
			t.Fatalf("%.30q past the limit: %d %s, want 503 with Retry-After", req, r.status, r.body)
		}
	}
	if r := s.do(get("/poll/team:42:0", sub)); r.status != 200 {
		t.Fatalf("a held channel refused a poll: %d", r.status)
	}
	if n := s.metric("realtime_channels_refused_total"); n != float64(len(over)) {
		t.Fatalf("channels refused %v, want %d", n, len(over))
	}
}

// TestPollOnlyChannelsAreFreedSoon: channels only polls touched do not
// stay for --channel-idle-ttl (a flood of polls on distinct names must not
// pin memory and channel slots for minutes).
func TestPollOnlyChannelsAreFreedSoon(t *testing.T) {
	s := startServer(t, func(c *broker.Config) {
		c.Channel.IdleTTL = time.Hour
		c.Channel.PollTTL = 200 * time.Millisecond
	})
	sub := bearerHeader(subToken(t))
	kept := s.subscribe("kept")
	s.publish("kept", "e", "1")
	kept.c.Close() // idle now, but published to: it stays for --channel-idle-ttl
	before := s.metric("realtime_channels")
	for i := 0; i < 50; i++ {
		s.do(get(fmt.Sprintf("/poll/flood:%d", i), sub))
	}
	if n := s.metric("realtime_channels"); n != before+50 {
		t.Fatalf("channels %v after 50 polls, want %v", n, before+50)
	}
	waitFor(t, "the polled channels to go", func() bool { return s.metric("realtime_channels") == before })
}

// TestReplayMemoryIsBounded: the rings of all channels together stay
// within --replay-memory; a resume into dropped events gets
// buffer_overrun, then what is left.
func TestReplayMemoryIsBounded(t *testing.T) {
	const budget = 256 << 10
	s := startServer(t, func(c *broker.Config) { c.Channel.ReplayMemory = budget }).node0() // a limit of each node
	data := `"` + strings.Repeat("y", 10000) + `"`
	first := map[int]uint64{}
	for ch := 0; ch < 10; ch++ {
		s.subscribe(fmt.Sprint("mem:", ch)) // held by the node (a Redis engine holds what it serves)
	}
	for ch := 0; ch < 10; ch++ {
		for i := 0; i < 10; i++ {
			p := s.publish(fmt.Sprint("mem:", ch), "e", data)
			if i == 0 {
				first[ch] = p.ID
			}
		}
	}
	waitFor(t, "the rings to shrink", func() bool { return s.metric("realtime_replay_buffered_bytes") <= budget })
	if s.metric("realtime_replay_dropped_total") == 0 {
		t.Fatal("no event counted as dropped")
	}
	st := s.subscribe("mem:0", fmt.Sprintf("Last-Event-ID: %d\r\n", first[0]))
	if f := st.nextEvent(); !strings.Contains(f, `"reason":"buffer_overrun"`) {
		t.Fatalf("resume on the least recently published channel: %.80q, want buffer_overrun", f)
	}
}

// TestStreamInputIsBounded: a stream whose peer goes on sending (here 1 MB
// of junk in the same write as its request) is closed once that passes one
// maximal request, instead of pinning a growing input buffer for its life.
func TestStreamInputIsBounded(t *testing.T) {
	s := startServer(t, nil)
	c := s.dial()
	defer c.Close()
	junk := strings.Repeat("j", 1<<20)
	go io.WriteString(c, get("/sse/junk", bearerHeader(subToken(t)))+junk)
	// The server closes with our junk unread: the peer sees EOF or a reset.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("stream with 1 MB of junk after its request not closed: %v", err)
	}
	waitFor(t, "the close to be counted", func() bool {
		return s.metric(`realtime_disconnects_total{reason="bad_request"}`) == 1
	})
}

// TestLongPollsAreNotSubscribers: parked long-polls do not count against
// the per-channel cap, in channel info or in delivered.
func TestLongPollsAreNotSubscribers(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.Channel.MaxSubscribers = 2 })
	sub := bearerHeader(subToken(t))
	for i := 0; i < 3; i++ {
		c := s.dial()
		defer c.Close()
		io.WriteString(c, get("/poll/lps?wait=20", sub))
	}
	waitFor(t, "3 parked polls", func() bool { return s.metric("realtime_polls_parked") == 3 })
	s.subscribe("lps")
	s.subscribe("lps")
	s.waitSubscribers("lps", 2)
	r := s.do(get("/channels/lps", bearerHeader(pubToken(t))))
	if !strings.Contains(r.body, `"subscribers":2,`) {
		t.Fatalf("channel info %s, want 2 subscribers", r.body)
	}
	if p := s.publish("lps", "e", "1"); p.Delivered != 2 {
		t.Fatalf("delivered %d, want 2 (parked polls are not deliveries)", p.Delivered)
	}
}

// TestShutdownAnswersParkedPolls: SIGTERM does not wait for a parked
// long-poll's timeout: it is answered at once, with Connection: close.
func TestShutdownAnswersParkedPolls(t *testing.T) {
	s := startServer(t, nil)
	c := s.dial()
	defer c.Close()
	io.WriteString(c, get("/poll/bye?wait=30", bearerHeader(subToken(t))))
	waitFor(t, "the parked poll", func() bool { return s.metric("realtime_polls_parked") == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("shutdown took %v with a parked long-poll", took)
	}
	r := readResponse(t, bufio.NewReader(c))
	if r.status != 200 || !r.close || !strings.HasPrefix(r.body, `{"events":[]`) {
		t.Fatalf("parked poll at shutdown: %d close=%v %s", r.status, r.close, r.body)
	}
}

// TestGaugeAfterClientsLeaveDuringAuthorization: clients that leave while
// the webhook decides do not stay counted as subscribers.
func TestGaugeAfterClientsLeaveDuringAuthorization(t *testing.T) {
	upstream := authApp(t, func(r *appRequest) appAnswer { time.Sleep(300 * time.Millisecond); return appAnswer{status: 200} })
	s := startServer(t, func(c *broker.Config) { c.Auth, c.AuthURL = "webhook", upstream.URL })
	for i := 0; i < 20; i++ {
		c := s.dial()
		io.WriteString(c, get("/sse/leaving", "Cookie: s=1\r\n"))
		c.Close()
	}
	time.Sleep(800 * time.Millisecond) // every authorization has answered
	st := s.subscribe("leaving", "Cookie: s=1\r\n")
	s.waitSubscribers("leaving", 1)
	p := s.publish("leaving", "e", "1")
	st.nextEvent()
	if n := s.metric("realtime_subscribers"); n != 1 || p.Delivered != 1 {
		t.Fatalf("subscribers gauge %v, delivered %d; want 1 and 1", n, p.Delivered)
	}
}
