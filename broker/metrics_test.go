package broker_test

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/workkit/realtime/broker"
)

// TestMetricsCountAKnownSequence scrapes /metrics before and after known
// subscribes, publishes, refusals and a slow-consumer eviction.
func TestMetricsCountAKnownSequence(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.Loop.MaxPendingBytes = 32 << 10; c.Channel.ReplayBuffer = 3 })
	before := s.scrape()

	a, b := s.subscribe("m"), s.subscribe("m")
	var last uint64
	for i := 0; i < 3; i++ {
		last = s.publish("m", "e", "1").ID
	}
	for _, st := range []*stream{a, b} {
		for i := 0; i < 3; i++ {
			st.nextEvent()
		}
	}
	replay := s.subscribe("m", fmt.Sprintf("Last-Event-ID: %d\r\n", last-1))
	replay.nextEvent()
	gap := s.subscribe("m", "Last-Event-ID: 5\r\n")
	gap.nextEvent()
	s.trySubscribe("m", "Authorization: Bearer nope\r\n")                                           // 401
	s.trySubscribe("m", bearerHeader(token(t, []string{"other"}, nil, time.Hour)))                  // 403
	s.do(post("/publish/m", `{"event":"e","data":1}`, bearerHeader(token(t, nil, nil, time.Hour)))) // 403

	slow := dialSmallBuffer(t, s.nodeAddr(0))
	io.WriteString(slow, get("/sse/big", bearerHeader(subToken(t))))
	waitFor(t, "the slow subscriber", func() bool {
		return s.subscribers("big") == 1
	})
	payload := fmt.Sprintf("%q", strings.Repeat("m", 4000))
	for i := 0; i < 100 && s.metric(`realtime_disconnects_total{reason="slow_consumer"}`) == 0; i++ {
		s.publish("big", "e", payload)
	}
	waitFor(t, "the eviction", func() bool {
		return s.metric(`realtime_disconnects_total{reason="slow_consumer"}`) == 1
	})

	after := s.scrape()
	delta := func(k string) float64 { return after[k] - before[k] }
	checks := map[string]float64{
		`realtime_replays_total`:                             2, // the resume and the gap's replay of the buffer
		`realtime_resets_total{reason="buffer_gap"}`:         1,
		`realtime_resets_total{reason="buffer_overrun"}`:     0,
		`realtime_auth_denied_total{status="401"}`:           1,
		`realtime_auth_denied_total{status="403"}`:           2,
		`realtime_disconnects_total{reason="slow_consumer"}`: 1,
	}
	for k, want := range checks {
		if got := delta(k); got != want {
			t.Errorf("%s moved by %v, want %v", k, got, want)
		}
	}
	pubs, dels := delta("realtime_publishes_total"), delta("realtime_deliveries_total")
	if pubs < 4 || dels < 7 || dels > 6+pubs-3 { // 3 to two subscribers, then at least one to the slow one
		t.Errorf("publishes %v deliveries %v", pubs, delta("realtime_deliveries_total"))
	}
	// Two channels, held by every node that serves one of their streams
	// (a Redis engine's mirrors): at least two, at most one per node and channel.
	if ch := after["realtime_channels"]; after["realtime_subscribers"] != 4 || ch < 2 || ch > float64(2*len(s.nodes)) {
		t.Errorf("gauges: subscribers %v channels %v", after["realtime_subscribers"], after["realtime_channels"])
	}
	if delta("realtime_write_syscalls_total") <= 0 || delta("realtime_frames_written_total") < delta("realtime_write_syscalls_total")-20 ||
		delta("realtime_bytes_written_total") <= 0 {
		t.Errorf("write counters: %v syscalls, %v frames, %v bytes", delta("realtime_write_syscalls_total"),
			delta("realtime_frames_written_total"), delta("realtime_bytes_written_total"))
	}
}
