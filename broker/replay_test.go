package broker_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/workkit/realtime/broker"
)

// TestReplayAndReset walks every case of SPEC 3.2 over HTTP, each on a
// fresh channel with a 5-event ring after 10 publishes.
func TestReplayAndReset(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.Channel.ReplayBuffer = 5 })
	// The cases are written against ids 1..10 relative to the base
	// (b+1..b+10): N = 10, O = 6. "{n}" and "{b}" in paths and headers are
	// replaced by absolute ids.
	gap := func(n, l uint64) string {
		return fmt.Sprintf("event: realtime.reset\nid: %d\ndata: {\"reason\":\"buffer_gap\",\"lastKnownId\":%d}\n\n", n, l)
	}
	overrun := func(n, l, o uint64) string {
		return fmt.Sprintf("event: realtime.reset\nid: %d\ndata: {\"reason\":\"buffer_overrun\",\"lastKnownId\":%d,\"oldestId\":%d}\n\n", n, l, o)
	}
	type ref struct {
		rel uint64 // relative to the base; ignored when abs
		abs bool
	}
	cases := []struct {
		name  string
		query *ref // lastEventId query parameter
		hdr   *ref // Last-Event-ID header
		raw   string
		reset string // "", "gap" or "overrun"
		from  uint64 // first replayed id, relative; 0 for none
	}{
		{name: "no id"},
		{name: "L == N", hdr: &ref{rel: 10}},
		{name: "L == N-1", hdr: &ref{rel: 9}, from: 10},
		{name: "L == O-1", hdr: &ref{rel: 5}, from: 6},
		{name: "query param", query: &ref{rel: 7}, from: 8},
		{name: "header wins over query", query: &ref{rel: 5}, hdr: &ref{rel: 9}, from: 10},
		{name: "invalid header ignored", query: &ref{rel: 8}, raw: "Last-Event-ID: -3\r\n", from: 9},
		{name: "invalid everywhere", raw: "Last-Event-ID: abc\r\n"},
		// A gap is followed by every buffered event (SPEC 3.2).
		{name: "L > N", hdr: &ref{rel: 11}, reset: "gap", from: 6},
		{name: "L below base", hdr: &ref{rel: 17, abs: true}, reset: "gap", from: 6},
		{name: "L == 0", hdr: &ref{rel: 0, abs: true}, reset: "gap", from: 6},
		{name: "L == base", hdr: &ref{rel: 0}, reset: "overrun", from: 6},
		{name: "L == O-2", hdr: &ref{rel: 4}, reset: "overrun", from: 6},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch := fmt.Sprint("r", i)
			var ids []uint64
			for j := 0; j < 10; j++ {
				ids = append(ids, s.publish(ch, "e", fmt.Sprint(j+1)).ID)
			}
			b, n, o := ids[0]-1, ids[9], ids[5]
			abs := func(r *ref) uint64 {
				if r.abs {
					return r.rel
				}
				return b + r.rel
			}
			path, headers := ch, []string{}
			if c.query != nil {
				path += fmt.Sprint("?lastEventId=", abs(c.query))
			}
			if c.hdr != nil {
				headers = append(headers, fmt.Sprintf("Last-Event-ID: %d\r\n", abs(c.hdr)))
			}
			if c.raw != "" {
				headers = append(headers, c.raw)
			}
			var want []string
			switch c.reset {
			case "gap":
				want = append(want, gap(n, abs(c.hdr)))
			case "overrun":
				want = append(want, overrun(n, abs(c.hdr), o))
			}
			if c.from > 0 {
				for rel := c.from; rel <= 10; rel++ {
					want = append(want, frame(b+rel, "e", fmt.Sprint(rel)))
				}
			}
			st := s.subscribe(path, headers...)
			for k, w := range want {
				if got := st.nextEvent(); got != w {
					t.Fatalf("frame %d: %q, want %q", k, got, w)
				}
			}
			// Live events follow at once, with no gap and no duplicate.
			live := s.publish(ch, "live", `"x"`)
			if got := st.nextEvent(); got != frame(live.ID, "live", `"x"`) {
				t.Fatalf("after replay: %q, want the live event %d", got, live.ID)
			}
		})
	}
}

// TestResetOnUnknownChannel: an id for a channel that has no incarnation
// yet is always a gap, with N = the new base.
func TestResetOnUnknownChannel(t *testing.T) {
	s := startServer(t, nil)
	st := s.subscribe("fresh", "Last-Event-ID: 5\r\n")
	f := st.nextEvent()
	if !strings.HasPrefix(f, "event: realtime.reset\nid: ") || !strings.HasSuffix(f, "\ndata: {\"reason\":\"buffer_gap\",\"lastKnownId\":5}\n\n") {
		t.Fatalf("got %q", f)
	}
	var n uint64
	fmt.Sscanf(strings.Split(f, "\n")[1], "id: %d", &n)
	if p := s.publish("fresh", "e", "1"); p.ID != n+1 {
		t.Fatalf("first id %d, want base+1 = %d", p.ID, n+1)
	}
}

// TestReplayWhilePublishing: subscribers joining with a last id while
// events are being published get every event after it exactly once, in
// order (replay and live are joined atomically).
func TestReplayWhilePublishing(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.Channel.ReplayBuffer = 1000 })
	first := s.publish("join", "e", "0").ID
	const total = 300
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i < total; i++ {
			s.publish("join", "e", fmt.Sprint(i))
		}
	}()
	var streams []*stream
	for i := 0; i < 10; i++ {
		streams = append(streams, s.subscribe("join", fmt.Sprintf("Last-Event-ID: %d\r\n", first)))
	}
	wg.Wait()
	for _, st := range streams {
		for i := 1; i < total; i++ {
			if got, want := st.nextEvent(), frame(first+uint64(i), "e", fmt.Sprint(i)); got != want {
				t.Fatalf("event %d: %q, want %q", i, got, want)
			}
		}
	}
}
