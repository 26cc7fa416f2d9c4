package channel

import (
	"fmt"
	"slices"
	"testing"
)

func history(base uint64, from, to uint64) []Event {
	var out []Event
	for id := from; id <= to; id++ {
		out = append(out, Event{ID: id, Name: []byte("e"), Data: []byte(fmt.Sprint(id - base))})
	}
	return out
}

// TestMirrorApply: only the next event of the same incarnation is applied.
func TestMirrorApply(t *testing.T) {
	r, _ := testRegistry(5, 0)
	c, err := r.Adopt([]byte("m"), 1000, 1003, history(1000, 1001, 1003), true)
	if err != nil {
		t.Fatal(err)
	}
	s := &recorder{}
	c.Subscribe(s, Open{})
	for _, step := range []struct {
		base, id uint64
		want     ApplyResult
	}{
		{1000, 1003, Duplicate},
		{1000, 1005, Missing},
		{2000, 2001, Missing},
		{1000, 1004, Applied},
	} {
		if got := c.Apply(step.base, step.id, []byte("e"), []byte("x")); got != step.want {
			t.Fatalf("Apply(%d, %d) = %v, want %v", step.base, step.id, got, step.want)
		}
	}
	if got := s.got(); !slices.Equal(got, []string{event(1004, "e", "x")}) {
		t.Fatalf("subscriber got %q", got)
	}
	if b, l := c.Position(); b != 1000 || l != 1004 {
		t.Fatalf("position %d %d", b, l)
	}
}

// TestMirrorResync: after missed events a subscriber gets them; after a
// new incarnation it gets buffer_gap and the new buffer; when the history
// no longer holds what it missed, buffer_overrun and the buffer.
func TestMirrorResync(t *testing.T) {
	cases := []struct {
		name       string
		base, last uint64
		events     []Event
		want       []string
	}{
		{"missed events", 1000, 1006, history(1000, 1002, 1006), []string{event(1004, "e", "4"), event(1005, "e", "5"), event(1006, "e", "6")}},
		{"new incarnation", 5000, 5002, history(5000, 5001, 5002), []string{
			"event: realtime.reset\nid: 5002\ndata: {\"reason\":\"buffer_gap\",\"lastKnownId\":1003}\n\n",
			event(5001, "e", "1"), event(5002, "e", "2")}},
		{"history moved on", 1000, 1020, history(1000, 1016, 1020), []string{
			"event: realtime.reset\nid: 1020\ndata: {\"reason\":\"buffer_overrun\",\"lastKnownId\":1003,\"oldestId\":1016}\n\n",
			event(1016, "e", "16"), event(1017, "e", "17"), event(1018, "e", "18"), event(1019, "e", "19"), event(1020, "e", "20")}},
		{"not newer: ignored", 1000, 1003, history(1000, 1001, 1003), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := testRegistry(5, 0)
			c, _ := r.Adopt([]byte("m"), 1000, 1003, history(1000, 1001, 1003), true)
			s, w := &recorder{}, &recorder{}
			c.Subscribe(s, Open{})
			c.Poll(PollQuery{Last: 1003, HasLast: true}, w)
			c.Resync(tc.base, tc.last, tc.events)
			if got := s.got(); !slices.Equal(got, tc.want) {
				t.Fatalf("subscriber got\n%q\nwant\n%q", got, tc.want)
			}
			if woken := len(w.got()) == 1; woken != (tc.want != nil) {
				t.Fatalf("parked poll woken: %v", woken)
			}
		})
	}
}

// TestMirrorHooks: the engine hears of subscriber changes and evictions.
func TestMirrorHooks(t *testing.T) {
	r, now := testRegistry(5, 0)
	var changed, evicted []string
	r.cfg.OnSubscribers = func(c *Channel) { changed = append(changed, fmt.Sprint(c.Name(), c.Subscribers())) }
	r.cfg.OnEvict = func(c *Channel) { evicted = append(evicted, c.Name()) }
	c, _ := r.Adopt([]byte("h"), 1000, 1000, nil, true)
	sub, _ := c.Subscribe(&recorder{}, Open{})
	_, wait, _ := c.Poll(PollQuery{}, &recorder{})
	wait.Cancel() // a parked poll is not a subscriber
	sub.Cancel()
	sub.Cancel()
	*now = now.Add(2 * r.cfg.IdleTTL)
	r.EvictIdle(*now)
	if !slices.Equal(changed, []string{"h1", "h0"}) || !slices.Equal(evicted, []string{"h"}) {
		t.Fatalf("subscriber changes %v, evictions %v", changed, evicted)
	}
}
