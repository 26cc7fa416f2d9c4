package broker_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workkit/realtime/broker"
)

// muxEvent is one frame of a multiplexed stream, parsed.
type muxEvent struct {
	cursor  string
	event   string
	channel string
	id      uint64
	data    json.RawMessage
	reset   map[string]any // the data of a realtime.reset
	rawData string         // the data line as sent
}

// muxPath builds /sse?channel=...&... (or /poll...) for names.
func muxPath(base string, names []string, extra ...string) string {
	q := url.Values{}
	for _, n := range names {
		q.Add("channel", n)
	}
	p := base + "?" + q.Encode()
	for _, e := range extra {
		p += "&" + e
	}
	return p
}

// subscribeMux opens a multiplexed stream and returns it with the cursor
// of its opening frame.
func (s *server) subscribeMux(names []string, headers ...string) (*stream, string) {
	s.t.Helper()
	if !strings.Contains(strings.Join(headers, ""), "Authorization:") {
		headers = append(headers, bearerHeader(subToken(s.t)))
	}
	st, r := s.openStream(muxPath("/sse", names), headers...)
	if st == nil {
		s.t.Fatalf("subscribe %v: %d %s", names, r.status, r.body)
	}
	f := st.next()
	var ms int
	var cursor string
	if _, err := fmt.Sscanf(f, "retry: %d\nid: %s\n\n", &ms, &cursor); err != nil {
		s.t.Fatalf("opening frame %q: %v", f, err)
	}
	return st, cursor
}

// nextMux reads the next frame of a multiplexed stream (heartbeats
// skipped).
func (st *stream) nextMux() muxEvent {
	st.t.Helper()
	f := st.nextEvent()
	var e muxEvent
	var data string
	for _, line := range strings.Split(strings.TrimSuffix(f, "\n\n"), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		switch k {
		case "id":
			e.cursor = v
		case "event":
			e.event = v
		case "data":
			data = v
		}
	}
	var body struct {
		Channel string          `json:"channel"`
		ID      uint64          `json:"id"`
		Data    json.RawMessage `json:"data"`
	}
	e.rawData = data
	if e.event == "realtime.reset" {
		mustJSON(st.t, data, &e.reset)
		e.channel, _ = e.reset["channel"].(string)
	} else {
		mustJSON(st.t, data, &body)
		e.channel, e.id, e.data = body.Channel, body.ID, body.Data
	}
	if e.cursor == "" {
		st.t.Fatalf("multiplexed frame without a cursor: %q", f)
	}
	return e
}

// TestMuxInterleavedChannels: three channels on one stream, published to
// concurrently: each channel's events arrive in id order, once.
func TestMuxInterleavedChannels(t *testing.T) {
	s := startServer(t, nil)
	names := []string{"mx:a", "mx:b", "mx:c"}
	st, _ := s.subscribeMux(names)
	for _, n := range names {
		s.waitSubscribers(n, 1)
	}
	want := map[string][]uint64{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				p := s.publish(n, "e", fmt.Sprint(i))
				mu.Lock()
				want[n] = append(want[n], p.ID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	got := map[string][]uint64{}
	for i := 0; i < 90; i++ {
		e := st.nextMux()
		got[e.channel] = append(got[e.channel], e.id)
	}
	for _, n := range names {
		if fmt.Sprint(got[n]) != fmt.Sprint(want[n]) {
			t.Fatalf("channel %s: got %v, want %v", n, got[n], want[n])
		}
	}
}

// TestMuxResumeWithCursor: a stream dropped and resumed with its last
// cursor (as Last-Event-ID, and as ?cursor=) while publishing goes on
// misses nothing on any channel.
func TestMuxResumeWithCursor(t *testing.T) {
	for _, how := range []string{"header", "query"} {
		t.Run(how, func(t *testing.T) {
			s := startServer(t, nil)
			names := []string{"rs:a", "rs:b"}
			st, cursor := s.subscribeMux(names)
			pa := s.publish("rs:a", "e", "1")
			if e := st.nextMux(); e.id != pa.ID {
				t.Fatalf("first event %+v", e)
			} else {
				cursor = e.cursor
			}
			st.c.Close()
			var missed []uint64
			for i := 0; i < 4; i++ {
				missed = append(missed, s.publish(names[i%2], "e", fmt.Sprint(i)).ID)
			}
			var again *stream
			if how == "header" {
				again, _ = s.subscribeMux(names, "Last-Event-ID: "+cursor+"\r\n")
			} else {
				path := muxPath("/sse", names, "cursor="+cursor)
				again, _ = s.openStream(path, bearerHeader(subToken(t)))
				again.next()
			}
			var got []uint64
			for range missed {
				got = append(got, again.nextMux().id)
			}
			if !sameSet(got, missed) {
				t.Fatalf("after resuming: %v, want %v", got, missed)
			}
		})
	}
}

// TestMuxResetOnlyWhereNeeded: one channel older than its buffer gets a
// reset (buffer_overrun, then its buffer); the current one resumes.
func TestMuxResetOnlyWhereNeeded(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.Channel.ReplayBuffer = 3 })
	names := []string{"old", "cur"}
	st, _ := s.subscribeMux(names)
	s.publish("old", "e", "0")
	cursor := st.nextMux().cursor
	st.c.Close()
	var olds []uint64
	for i := 0; i < 6; i++ {
		olds = append(olds, s.publish("old", "e", fmt.Sprint(i)).ID)
	}
	cur := s.publish("cur", "e", `"x"`).ID
	again, _ := s.subscribeMux(names, "Last-Event-ID: "+cursor+"\r\n")
	seen := map[string][]string{}
	for i := 0; i < 5; i++ { // a reset and 3 buffered on old, 1 on cur
		e := again.nextMux()
		if e.reset != nil {
			seen[e.channel] = append(seen[e.channel], "reset:"+fmt.Sprint(e.reset["reason"]))
		} else {
			seen[e.channel] = append(seen[e.channel], fmt.Sprint(e.id))
		}
	}
	wantOld := []string{"reset:buffer_overrun", fmt.Sprint(olds[3]), fmt.Sprint(olds[4]), fmt.Sprint(olds[5])}
	if fmt.Sprint(seen["old"]) != fmt.Sprint(wantOld) || fmt.Sprint(seen["cur"]) != fmt.Sprint([]string{fmt.Sprint(cur)}) {
		t.Fatalf("resume: %v, want old %v and cur [%d]", seen, wantOld, cur)
	}
}

// TestMux32ChannelsNativeResume: the default maximum of 32 channels,
// resumed the way a native EventSource does (only Last-Event-ID); 33 are
// refused.
func TestMux32ChannelsNativeResume(t *testing.T) {
	s := startServer(t, nil)
	var names []string
	for i := 0; i < 32; i++ {
		names = append(names, fmt.Sprint("n32:", i))
	}
	st, cursor := s.subscribeMux(names)
	if len(cursor) > 16*32+1 {
		t.Fatalf("cursor of 32 channels is %d characters", len(cursor))
	}
	st.c.Close()
	want := map[string]uint64{}
	for _, n := range names {
		want[n] = s.publish(n, "e", "1").ID
	}
	again, _ := s.subscribeMux(names, "Last-Event-ID: "+cursor+"\r\n")
	for range names {
		e := again.nextMux()
		if want[e.channel] != e.id {
			t.Fatalf("channel %s: id %d, want %d", e.channel, e.id, want[e.channel])
		}
		delete(want, e.channel)
	}
	r := s.do(get(muxPath("/sse", append(names, "n32:x")), bearerHeader(subToken(t))))
	if r.status != 400 {
		t.Fatalf("33 channels: %d %s", r.status, r.body)
	}
}

// TestMuxRefusals: one unauthorized channel among allowed ones is 403
// naming it; an invalid name is 400 naming it; a full channel is 429
// naming it; a cursor that does not parse opens every channel fresh.
func TestMuxRefusals(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.Channel.MaxSubscribers = 1 }).node0()
	tok := bearerHeader(token(t, []string{"ok:*"}, nil, time.Hour))
	r := s.do(get(muxPath("/sse", []string{"ok:1", "secret", "ok:2"}), tok))
	if r.status != 403 || !strings.Contains(r.body, `"channel":"secret"`) {
		t.Fatalf("one forbidden channel: %d %s", r.status, r.body)
	}
	r = s.do(get(muxPath("/sse", []string{"ok:1", "bad name"}), tok))
	if r.status != 400 || !strings.Contains(r.body, `"channel":"bad name"`) {
		t.Fatalf("an invalid channel: %d %s", r.status, r.body)
	}
	s.subscribe("ok:full")
	r = s.do(get(muxPath("/sse", []string{"ok:1", "ok:full"}), tok))
	if r.status != 429 || !strings.Contains(r.body, `"channel":"ok:full"`) {
		t.Fatalf("a full channel: %d %s", r.status, r.body)
	}
	st, _ := s.subscribeMux([]string{"ok:1"}, tok, "Last-Event-ID: not-a-cursor\r\n")
	p := s.publish("ok:1", "e", "1")
	if e := st.nextMux(); e.reset != nil || e.id != p.ID {
		t.Fatalf("after a cursor that does not parse: %+v", e)
	}
}

// TestMuxPoll: a multiplexed poll answers every channel under the replay
// rules with a cursor that a later poll resumes from; with wait, an event
// on any channel answers it.
func TestMuxPoll(t *testing.T) {
	s := startServer(t, nil)
	sub := bearerHeader(subToken(t))
	names := []string{"mp:a", "mp:b"}
	type answer struct {
		Events []struct {
			Channel string          `json:"channel"`
			ID      uint64          `json:"id"`
			Event   string          `json:"event"`
			Data    json.RawMessage `json:"data"`
		} `json:"events"`
		Cursor string `json:"cursor"`
	}
	poll := func(extra ...string) answer {
		r := s.do(get(muxPath("/poll", names, extra...), sub))
		var a answer
		if r.status != 200 {
			t.Fatalf("poll: %d %s", r.status, r.body)
		}
		mustJSON(t, r.body, &a)
		return a
	}
	first := poll()
	if len(first.Events) != 0 || first.Cursor == "" {
		t.Fatalf("first poll: %+v", first)
	}
	a, b := s.publish("mp:a", "e", "1"), s.publish("mp:b", "e", "2")
	next := poll("cursor=" + first.Cursor)
	if len(next.Events) != 2 || next.Events[0].ID != a.ID || next.Events[1].ID != b.ID || next.Events[1].Channel != "mp:b" {
		t.Fatalf("poll after two events: %+v", next)
	}
	if again := poll("cursor=" + next.Cursor); len(again.Events) != 0 {
		t.Fatalf("poll with the latest cursor: %+v", again)
	}
	done := make(chan answer, 1)
	go func() { done <- poll("cursor="+next.Cursor, "wait=10") }()
	waitFor(t, "the parked poll", func() bool { return s.metric("realtime_polls_parked") == 1 })
	c := s.publish("mp:b", "late", "3")
	if got := <-done; len(got.Events) != 1 || got.Events[0].ID != c.ID || got.Events[0].Event != "late" {
		t.Fatalf("long-poll: %+v", got)
	}
}

func sameSet(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[uint64]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}
