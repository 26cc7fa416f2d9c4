package redisengine

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/workkit/realtime/channel"
	"github.com/workkit/realtime/internal/redisproc"
)

// runID returns the run id of r's process.
func runID(t *testing.T, r *redisproc.Server) string {
	t.Helper()
	info, err := r.Do("INFO", "server")
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`run_id:(\w+)`).FindStringSubmatch(info)[1]
}

// TestLargeIDsAreFormattedAsIntegers: Lua formats numbers with %.14g when
// concatenated; an id near 2^53 must come back, be stored and be published
// digit for digit, and no id reaches 2^53.
func TestLargeIDsAreFormattedAsIntegers(t *testing.T) {
	r := redisproc.StartT(t, redisproc.Options{})
	e := newEngine(t, r.URL(), "big:", nil)
	k, _ := e.keysOf("big")
	const last = 1<<53 - 3 // 9007199254740989
	if _, err := r.Do("HSET", k.meta, "base", "9007199254740000", "last", fmt.Sprint(last), "run", runID(t, r)); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	subscribe(t, e, "big", rec, channel.Open{})
	for _, want := range []uint64{last + 1, last + 2} {
		if p := publish(t, e, "big", "e", "1"); p.ID != want {
			t.Fatalf("id %d, want %d", p.ID, want)
		}
	}
	got := waitFrames(t, rec, 2)
	if got[1] != frame(last+2, "e", "1") {
		t.Fatalf("frame %q", got[1])
	}
	if top, _ := r.Do("XREVRANGE", k.stream, "+", "-", "COUNT", "1"); !strings.Contains(top, "9007199254740991-0") {
		t.Fatalf("stream entry %q, want id 9007199254740991-0", top)
	}
	// 2^53 itself is never issued.
	if err := publishErr(e, "big"); err != channel.ErrUnavailable {
		t.Fatalf("a publish past 2^53-1: %v, want ErrUnavailable", err)
	}
}

// TestRedisRestartedEmpty: while Redis is down publishes fail and streams
// stay; once it is back, a subscriber gets buffer_gap (its last id as
// lastKnownId) and the new incarnation, whose ids are above every old one.
func TestRedisRestartedEmpty(t *testing.T) {
	r := redisproc.StartT(t, redisproc.Options{})
	a, b := newEngine(t, r.URL(), "restart:", nil), newEngine(t, r.URL(), "restart:", nil)
	rec := &recorder{}
	subscribe(t, b, "c", rec, channel.Open{})
	old := publish(t, a, "c", "e", "1")
	waitFrames(t, rec, 1)
	if err := r.Kill(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the engine to notice", 2*time.Second, func() bool { return !a.Ready() })
	if err := publishErr(a, "c"); err != channel.ErrUnavailable {
		t.Fatalf("publish with Redis down: %v", err)
	}
	if err := r.Restart(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the engines to be ready", 10*time.Second, func() bool { return a.Ready() && b.Ready() })
	p := publish(t, a, "c", "e", "3")
	if p.ID <= old.ID+1 {
		t.Fatalf("id %d after the restart is not above the old %d", p.ID, old.ID)
	}
	// The reset's id is the new incarnation's last id when the mirror was
	// repaired: its base, or the new event if that was published first
	// (it is replayed after the reset then).
	got := waitFrames(t, rec, 3)
	gap := func(n uint64) string {
		return fmt.Sprintf("event: realtime.reset\nid: %d\ndata: {\"reason\":\"buffer_gap\",\"lastKnownId\":%d}\n\n", n, old.ID)
	}
	if (got[1] != gap(p.ID-1) && got[1] != gap(p.ID)) || got[2] != frame(p.ID, "e", "3") || len(got) != 3 {
		t.Fatalf("after the restart the subscriber got %q, want a buffer_gap from %d and the new event", got[1:], old.ID)
	}
}

// TestRestoredSnapshotReusesNoID: Redis restarted from an older snapshot
// holds an older last id; the next publish must not reissue any id.
func TestRestoredSnapshotReusesNoID(t *testing.T) {
	r := redisproc.StartT(t, redisproc.Options{Persist: true})
	e := newEngine(t, r.URL(), "restore:", nil)
	publish(t, e, "c", "e", "1")
	snap, err := r.Save()
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for i := 0; i < 5; i++ {
		last = publish(t, e, "c", "e", "2").ID
	}
	if err := r.RestartFrom(snap); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the engine to be ready", 10*time.Second, func() bool { return e.Ready() })
	time.Sleep(200 * time.Millisecond) // the run id cache of the snapshot is long expired anyway
	// A fresh engine has seen none of those ids: Redis alone must refuse to
	// reuse them.
	fresh := newEngine(t, r.URL(), "restore:", nil)
	if p := publish(t, fresh, "c", "e", "3"); p.ID <= last {
		t.Fatalf("id %d after restoring an older snapshot: ids up to %d were issued", p.ID, last)
	}
}

// TestPubSubDropIsRepaired: a node whose pub/sub connection is killed
// repairs what it missed from the history: the subscriber gets every event
// once, in order, without a reset.
func TestPubSubDropIsRepaired(t *testing.T) {
	r := redisproc.StartT(t, redisproc.Options{})
	a, b := newEngine(t, r.URL(), "drop:", nil), newEngine(t, r.URL(), "drop:", nil)
	rec := &recorder{}
	subscribe(t, b, "c", rec, channel.Open{})
	var want []string
	for i := 0; i < 40; i++ {
		if i == 10 {
			if _, err := r.Do("CLIENT", "KILL", "TYPE", "pubsub"); err != nil {
				t.Fatal(err)
			}
		}
		p := publish(t, a, "c", "e", fmt.Sprint(i))
		want = append(want, frame(p.ID, "e", fmt.Sprint(i)))
	}
	if got := waitFrames(t, rec, 40); strings.Join(got, "") != strings.Join(want, "") {
		t.Fatalf("after a pub/sub drop the subscriber got\n%q\nwant\n%q", got, want)
	}
	if b.stats.pubsubReconnects.Load() == 0 {
		t.Fatal("the drop was not noticed")
	}
}

// TestDropBeyondHistoryIsAnOverrun: a node that missed more events than
// the history holds gives its subscribers buffer_overrun and the buffer.
func TestDropBeyondHistoryIsAnOverrun(t *testing.T) {
	r := redisproc.StartT(t, redisproc.Options{})
	short := func(c *Config) { c.Channel.ReplayBuffer = 5 }
	a, b := newEngine(t, r.URL(), "over:", short), newEngine(t, r.URL(), "over:", short)
	rec := &recorder{}
	subscribe(t, b, "c", rec, channel.Open{})
	before := publish(t, a, "c", "e", "0")
	waitFrames(t, rec, 1)
	if _, err := r.Do("CLIENT", "KILL", "TYPE", "pubsub"); err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for i := 1; i <= 20; i++ { // before b's partitions are back
		ids = append(ids, publish(t, a, "c", "e", fmt.Sprint(i)).ID)
	}
	got := waitFrames(t, rec, 7)
	overrun := fmt.Sprintf("event: realtime.reset\nid: %d\ndata: {\"reason\":\"buffer_overrun\",\"lastKnownId\":%d,\"oldestId\":%d}\n\n",
		ids[19], before.ID, ids[15])
	if got[1] != overrun {
		t.Fatalf("after missing 20 events with a 5-event history: %q, want %q", got[1], overrun)
	}
	for i, id := range ids[15:] {
		if got[2+i] != frame(id, "e", fmt.Sprint(16+i)) {
			t.Fatalf("buffer after the reset: %q", got[2:])
		}
	}
}

// TestClusterSpreadsPartitions: on a three-master Cluster the partitions'
// hash tags land on every master, and two nodes share a channel through
// sharded pub/sub.
func TestClusterSpreadsPartitions(t *testing.T) {
	c := redisproc.StartClusterT(t, 3, redisproc.Options{})
	a, b := newEngine(t, c.URL(), "cl:", nil), newEngine(t, c.URL(), "cl:", nil)
	if !a.cluster {
		t.Fatal("redis-cluster:// did not make a Cluster engine")
	}
	owners := map[string]int{}
	for _, p := range a.parts {
		addr, err := c.Do("CLUSTER", "KEYSLOT", p.pp+"nodes")
		if err != nil {
			t.Fatal(err)
		}
		owners[ownerOf(t, c, addr)]++
	}
	if len(owners) != 3 {
		t.Fatalf("partitions per master %v: want all three used", owners)
	}
	rec := &recorder{}
	subscribe(t, b, "shared", rec, channel.Open{})
	var want []string
	for i := 0; i < 10; i++ {
		p := publish(t, a, "shared", "e", fmt.Sprint(i))
		want = append(want, frame(p.ID, "e", fmt.Sprint(i)))
	}
	if got := waitFrames(t, rec, 10); strings.Join(got, "") != strings.Join(want, "") {
		t.Fatalf("on a Cluster the other node got %q", got)
	}
}

// ownerOf returns the address of the master that owns slot (decimal), as
// its own CLUSTER NODES line says.
func ownerOf(t *testing.T, c *redisproc.Cluster, slot string) string {
	t.Helper()
	for _, n := range c.Nodes {
		if nodes, err := n.Do("CLUSTER", "NODES"); err == nil && slotIn(nodes, slot) {
			return n.Addr()
		}
	}
	t.Fatalf("no master owns slot %s", slot)
	return ""
}

// slotIn reports whether the "myself" line of CLUSTER NODES covers slot.
func slotIn(nodes, slot string) bool {
	var s int
	fmt.Sscan(slot, &s)
	for _, line := range strings.Split(nodes, "\n") {
		if !strings.Contains(line, "myself") {
			continue
		}
		for _, f := range strings.Fields(line)[8:] {
			var lo, hi int
			if n, _ := fmt.Sscanf(f, "%d-%d", &lo, &hi); n == 2 && s >= lo && s <= hi {
				return true
			}
			if n, _ := fmt.Sscanf(f, "%d", &lo); n == 1 && !strings.Contains(f, "-") && s == lo {
				return true
			}
		}
	}
	return false
}

// publishErr publishes one event and returns the error it got, now or
// later.
func publishErr(e *Engine, ch string) error {
	done := make(chan error, 1)
	_, err := e.Publish([]byte(ch), []byte("e"), []byte("1"), func(_ channel.Published, err error) { done <- err })
	if err == channel.ErrPending {
		err = <-done
	}
	return err
}
