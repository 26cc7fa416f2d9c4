package load

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func muxEnv() *Env { return &Env{PerWorker: 100, Deadline: time.Now().Add(3 * time.Minute)} }

// TestMultiplexE2E runs the multiplex scenario end to end on the real
// server (worker processes included): 200 streams of 4 channels drawn from
// 16, 400 events on random channels. Every channel of every stream must get
// each of its events once, in order, with consecutive ids and a cursor
// that holds them. Then the single baseline with the same channels. It
// asserts no timing.
func TestMultiplexE2E(t *testing.T) {
	srv := startServer(t)
	base := MultiplexParams{Streams: 200, K: 4, Channels: 16, Events: 400, Window: 4, Seed: 9, Settle: 10 * time.Millisecond}
	for _, p := range []MultiplexParams{base, {Streams: 200, K: 4, Channels: 16, Events: 400, Window: 4, Seed: 9,
		Settle: 10 * time.Millisecond, Single: true}} {
		t.Run(p.Name(), func(t *testing.T) {
			res, out, err := Multiplex(muxEnv(), &srv.Target, p)
			if err != nil {
				t.Fatal(err)
			}
			c, ms := out.Report.Checks, out.Report.Mux
			if ms == nil {
				t.Fatal("no mux figures in the report")
			}
			conns := 200
			if p.Single {
				conns = 800
			}
			if out.Opened != conns || out.Publish.OK != 400 || out.Expected == 0 {
				t.Fatalf("opened %d, published %d, expected %d, notes %v", out.Opened, out.Publish.OK, out.Expected, res.Notes)
			}
			if c.Missing != 0 || c.Duplicated != 0 || c.OutOfOrder != 0 || c.Resets != 0 || int64(c.Received) != out.Expected {
				t.Fatalf("checks %+v (expected %d deliveries), notes %v", c, out.Expected, res.Notes)
			}
			if !ms.Clean() || ms.CursorOpaque != 0 || ms.Opened != conns || out.Report.Done != conns || res.Failed {
				t.Fatalf("mux stats %+v, done %d, notes %v", ms.MuxStats, out.Report.Done, res.Notes)
			}
			if want := len("id: \n") + 1 + 16*4; !p.Single && (ms.IDLineMax != want || ms.IDLineMin != want) {
				t.Fatalf("id lines %d..%d bytes, want %d", ms.IDLineMin, ms.IDLineMax, want)
			}
			if out.Latency.N != uint64(c.Received) {
				t.Fatalf("latency samples %d, deliveries %d", out.Latency.N, c.Received)
			}
		})
	}
}

// TestRevokeE2E runs the revoke scenario end to end: the streams of one
// principal (single, then multiplexed) must each get their realtime.closed
// frames and EOF, the answer must count them, the bystanders must stay.
func TestRevokeE2E(t *testing.T) {
	bin := serverBin(t)
	for _, k := range []int{0, 3} {
		t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
			p := RevokeParams{Streams: 300, Channels: 4, K: k, Bystanders: 20, Nodes: 1, Settle: 10 * time.Millisecond,
				Wait: 30 * time.Second, Seed: 1, Bin: bin, LogDir: t.TempDir()}
			res, out, err := Revoke(muxEnv(), p)
			if err != nil {
				t.Fatal(err)
			}
			ms := out.Report.Mux
			want := 300 * max(k, 1)
			if res.Failed || out.Status != 200 || out.Closed != want || ms.Closed != want || ms.FullyClosed != 300 ||
				ms.EOFClosed != 300 || ms.EOFOther+ms.StillOpen+ms.ClosedBad+ms.AfterClosed != 0 {
				t.Fatalf("answer %d %s, stats %+v, notes %v", out.Status, out.Body, ms.MuxStats, res.Notes)
			}
			if ms.EndedAt.Count() != 300 || ms.ClosedAt.Count() != 300 || out.BystandersOpened != 20 {
				t.Fatalf("ended %d, closed %d, bystanders %d", ms.EndedAt.Count(), ms.ClosedAt.Count(), out.BystandersOpened)
			}
			if out.PresenceBefore != want || out.PresenceAfter != 0 {
				t.Fatalf("presence %d before, %d after", out.PresenceBefore, out.PresenceAfter)
			}
		})
	}
}

// TestMuxCursorSizes reads the cursor a real server puts on the `id:` line
// of multiplexed streams of 1, 8 and 32 channels, at the opening and on an
// event, with short names (typical) and 128-byte names (worst case: the
// longest the default --channel-pattern allows; positions are fixed-width
// in the cursor), and checks it against the documented size, 1 + 16 per
// channel. go test -run TestMuxCursorSizes -v prints the sizes.
func TestMuxCursorSizes(t *testing.T) {
	srv := startServer(t)
	for _, worst := range []bool{false, true} {
		for _, k := range []int{1, 8, 32} {
			names := make([]string, k)
			tag := randomHex(3)
			for i := range names {
				names[i] = fmt.Sprintf("cur-%s-%d", tag, i)
				if worst {
					names[i] += "-" + strings.Repeat("w", 128-len(names[i])-1)
				}
			}
			open, event := cursorLines(t, &srv.Target, names)
			kind := "typical"
			if worst {
				kind = "worst"
			}
			want := len("id: \n") + 1 + 16*k
			t.Logf("%-7s %2d channels (names of %3d bytes): id line %d bytes at the opening, %d on an event (cursor %d)",
				kind, k, len(names[0]), open, event, event-len("id: \n"))
			if open != want || event != want {
				t.Errorf("%s, %d channels: id lines of %d and %d bytes, want %d", kind, k, open, event, want)
			}
		}
	}
}

// cursorLines opens a multiplexed stream of names, publishes one event on
// its last channel and returns the length of the "id: ...\n" line of the
// opening frame and of the event.
func cursorLines(t *testing.T, tg *Target, names []string) (open, event int) {
	t.Helper()
	st, err := OpenMuxStream(tg, names, false, DialOptions{}, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Conn.Close()
	_ = st.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := st.Sc.Next()
	if err != nil || !f.Retry || !f.HasID {
		t.Fatalf("opening frame %+v %v", f, err)
	}
	open = len("id: \n") + len(f.ID)
	if _, _, err := PublishOrder(tg, OrderPlan{Pool: names, Order: []int{len(names) - 1}}); err != nil {
		t.Fatal(err)
	}
	if f, err = st.Sc.Next(); err != nil || !f.HasData {
		t.Fatalf("event frame %+v %v", f, err)
	}
	return open, len("id: \n") + len(f.ID)
}
