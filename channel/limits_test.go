package channel

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestWaitersAreNotSubscribers: parked long-polls are woken by an event
// but do not count against the subscriber limit, in Info or in Delivered.
func TestWaitersAreNotSubscribers(t *testing.T) {
	r, _ := testRegistry(5, 1)
	var waiters []*recorder
	for i := 0; i < 3; i++ {
		w := &recorder{}
		if _, sub, err := r.Poll([]byte("c"), PollQuery{}, w, nil); err != nil || sub == nil {
			t.Fatalf("poll %d: parked %v, %v", i, sub != nil, err)
		}
		waiters = append(waiters, w)
	}
	if _, err := r.Subscribe([]byte("c"), &recorder{}, Open{}, nil); err != nil {
		t.Fatalf("a stream beside 3 parked polls with a limit of 1: %v", err)
	}
	if n := r.Lookup([]byte("c")).Info().Subscribers; n != 1 {
		t.Fatalf("info counts %d subscribers, want 1", n)
	}
	p, _ := r.Publish([]byte("c"), []byte("e"), []byte("1"), nil)
	if p.Delivered != 1 {
		t.Fatalf("delivered %d, want 1 (waiters are not deliveries)", p.Delivered)
	}
	for i, w := range waiters {
		if len(w.got()) != 1 {
			t.Fatalf("waiter %d was not woken", i)
		}
	}
}

// TestMaxChannels: creating one channel past MaxChannels fails, existing
// ones keep working, and an eviction makes room again.
func TestMaxChannels(t *testing.T) {
	r, now := testRegistry(5, 0)
	r.cfg.MaxChannels = 3
	for i := 0; i < 3; i++ {
		if _, err := r.Publish([]byte(fmt.Sprint("c", i)), []byte("e"), []byte("1"), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Publish([]byte("c3"), []byte("e"), []byte("1"), nil); err != ErrTooManyChannels {
		t.Fatalf("4th channel by publish: %v", err)
	}
	if _, err := r.Subscribe([]byte("c3"), &recorder{}, Open{}, nil); err != ErrTooManyChannels {
		t.Fatalf("4th channel by subscribe: %v", err)
	}
	if _, _, err := r.Poll([]byte("c3"), PollQuery{}, nil, nil); err != ErrTooManyChannels {
		t.Fatalf("4th channel by poll: %v", err)
	}
	if _, err := r.Publish([]byte("c0"), []byte("e"), []byte("2"), nil); err != nil {
		t.Fatalf("existing channel: %v", err)
	}
	if r.Len() != 3 || r.Stats().Refused.Load() != 3 {
		t.Fatalf("len %d refused %d", r.Len(), r.Stats().Refused.Load())
	}
	*now = now.Add(2 * time.Minute)
	r.EvictIdle(*now)
	if _, err := r.Publish([]byte("c3"), []byte("e"), []byte("1"), nil); err != nil || r.Len() != 1 {
		t.Fatalf("after eviction: %v, len %d", err, r.Len())
	}
}

// TestPollOnlyChannelsExpireSooner: a channel only polls touched is
// evicted after PollTTL, not IdleTTL; one that was published to keeps
// IdleTTL.
func TestPollOnlyChannelsExpireSooner(t *testing.T) {
	r, now := testRegistry(5, 0)
	r.Poll([]byte("polled"), PollQuery{}, nil, nil)
	r.Publish([]byte("published"), []byte("e"), []byte("1"), nil)
	w := &recorder{}
	_, sub, _ := r.Poll([]byte("waited"), PollQuery{}, w, nil)
	*now = now.Add(11 * time.Second)
	r.EvictIdle(*now)
	if r.Lookup([]byte("polled")) != nil {
		t.Fatal("a channel only a poll touched outlived PollTTL")
	}
	if r.Lookup([]byte("published")) == nil || r.Lookup([]byte("waited")) == nil {
		t.Fatal("a published channel, or one with a parked poll, was evicted after PollTTL")
	}
	sub.Cancel() // the long-poll answered: now idle, and only polled
	*now = now.Add(11 * time.Second)
	r.EvictIdle(*now)
	if r.Lookup([]byte("waited")) != nil || r.Lookup([]byte("published")) == nil {
		t.Fatal("after the long-poll left: want it evicted after PollTTL, the published one kept")
	}
}

// TestReplayMemoryDropsLeastRecentlyPublishedFirst: past ReplayMemory the
// oldest events of the least recently published channels go first, and a
// resume into what was dropped gets buffer_overrun.
func TestReplayMemoryDropsLeastRecentlyPublishedFirst(t *testing.T) {
	r, now := testRegistry(10, 0)
	data := []byte(`"` + strings.Repeat("x", 900) + `"`)
	var first [3]uint64
	for ch := 0; ch < 3; ch++ { // channel 0 is published to first
		for i := 0; i < 10; i++ {
			*now = now.Add(time.Millisecond)
			p, _ := r.Publish([]byte(fmt.Sprint("m", ch)), []byte("e"), data, nil)
			if i == 0 {
				first[ch] = p.ID
			}
		}
	}
	total := r.BufferedBytes()
	r.memory.budget = total * 2 / 3 // room for about two channels
	r.Reclaim()
	if got, target := r.BufferedBytes(), r.memory.budget*9/10; got > target {
		t.Fatalf("buffered %d bytes after reclaim, want at most %d", got, target)
	}
	info := func(ch int) Info { return r.Lookup([]byte(fmt.Sprint("m", ch))).Info() }
	if info(0).Buffered != 0 || info(2).Buffered != 10 {
		t.Fatalf("buffered per channel %d %d %d: want the least recently published emptied first",
			info(0).Buffered, info(1).Buffered, info(2).Buffered)
	}
	if r.Stats().Dropped.Load() < 10 {
		t.Fatalf("dropped %d events", r.Stats().Dropped.Load())
	}
	s := &recorder{}
	r.Subscribe([]byte("m1"), s, Open{Last: first[1], HasLast: true}, nil)
	if got := s.got(); len(got) == 0 || !strings.Contains(got[0], `"reason":"buffer_overrun"`) {
		t.Fatalf("resume into dropped events: %q, want buffer_overrun first", got)
	}
}
