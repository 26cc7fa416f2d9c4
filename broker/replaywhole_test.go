package broker_test

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/workkit/realtime/broker"
)

// bigData is the JSON of an event near --max-publish-bytes: 50 of them are
// about 3 MiB, three times the default --max-pending-bytes.
var bigData = `"` + strings.Repeat("x", 60000) + `"`

// fillRing publishes 50 big events to ch and returns their ids.
func fillRing(s *server, ch string) []uint64 {
	var ids []uint64
	for i := 0; i < 50; i++ {
		ids = append(ids, s.publish(ch, "big", bigData).ID)
	}
	return ids
}

// TestReplayLargerThanPendingLimitIsDeliveredWhole: a resume whose replay
// is three times --max-pending-bytes gets all of it, then live events
// (it used to be closed as a slow consumer before the response head).
func TestReplayLargerThanPendingLimitIsDeliveredWhole(t *testing.T) {
	s := startServer(t, nil)
	ids := fillRing(s, "whole")
	st := s.subscribe("whole", fmt.Sprintf("Last-Event-ID: %d\r\n", ids[0]-1))
	for i, id := range ids {
		if got := st.nextEvent(); got != frame(id, "big", bigData) {
			t.Fatalf("replayed event %d: %.60q", i, got)
		}
	}
	live := s.publish("whole", "live", "1")
	if got := st.nextEvent(); got != frame(live.ID, "live", "1") {
		t.Fatalf("after the replay: %.60q", got)
	}
}

// TestPendingLimitCountsWhatIsQueuedBeyondTheReplay: a subscriber that
// reads nothing keeps its 3 MiB replay queued, and is closed as a slow
// consumer only once the live events queued beyond it pass
// --max-pending-bytes (1 MiB).
func TestPendingLimitCountsWhatIsQueuedBeyondTheReplay(t *testing.T) {
	s := startServer(t, nil)
	ids := fillRing(s, "beyond")
	c := dialSmallBuffer(t, s.nodeAddr(0))
	defer c.Close()
	io.WriteString(c, get("/sse/beyond", bearerHeader(subToken(t)), fmt.Sprintf("Last-Event-ID: %d\r\n", ids[0]-1)))
	waitFor(t, "the stream", func() bool { return s.metric("realtime_subscribers") == 1 })
	slow := `realtime_disconnects_total{reason="slow_consumer"}`
	// 17 live frames of ~60 KB are under 1 MiB beyond the replay ...
	for i := 0; i < 17; i++ {
		s.publish("beyond", "big", bigData)
	}
	if s.metric(slow) != 0 || s.metric("realtime_subscribers") != 1 {
		t.Fatal("closed before the live backlog passed --max-pending-bytes")
	}
	// ... the 18th is over it.
	s.publish("beyond", "big", bigData)
	waitFor(t, "the slow consumer to be closed", func() bool { return s.metric(slow) == 1 })
}

// TestPollWithOldIDGetsTheWholeReplay: a poll whose answer is three times
// --max-pending-bytes is answered (it used to be cut off).
func TestPollWithOldIDGetsTheWholeReplay(t *testing.T) {
	s := startServer(t, nil)
	ids := fillRing(s, "pollwhole")
	r := s.do(get(fmt.Sprintf("/poll/pollwhole?lastEventId=%d", ids[0]-1), bearerHeader(subToken(t))))
	var p pollResult
	mustJSON(t, r.body, &p)
	if r.status != 200 || len(p.Events) != 50 || p.Events[49].ID != ids[49] {
		t.Fatalf("poll: %d with %d events", r.status, len(p.Events))
	}
}

// TestPipelinedBigPollsAreAllAnswered: replies queued beyond
// --max-pending-bytes pause the reading of pipelined requests until they
// are written; every request is answered, in order.
func TestPipelinedBigPollsAreAllAnswered(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.Loop.MaxPendingBytes = 256 << 10 })
	ids := fillRing(s, "pipe")
	c := s.dial()
	defer c.Close()
	sub := bearerHeader(subToken(t))
	var reqs strings.Builder
	for i := 0; i < 6; i++ {
		fmt.Fprint(&reqs, get(fmt.Sprintf("/poll/pipe?lastEventId=%d", ids[i]), sub))
	}
	reqs.WriteString(get("/healthz"))
	io.WriteString(c, reqs.String())
	br := bufio.NewReader(c)
	for i := 0; i < 6; i++ {
		r := readResponse(t, br)
		var p pollResult
		mustJSON(t, r.body, &p)
		if r.status != 200 || len(p.Events) != 49-i || p.Events[0].ID != ids[i+1] {
			t.Fatalf("poll %d: %d with %d events", i, r.status, len(p.Events))
		}
	}
	if r := readResponse(t, br); r.status != 200 || r.body != "ok\n" {
		t.Fatalf("last pipelined request: %d %q", r.status, r.body)
	}
}
