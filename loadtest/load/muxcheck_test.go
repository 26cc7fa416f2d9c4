package load

import (
	"bufio"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

// testCursor encodes a cursor the way the server documents it
// (channel/cursor.go): "1" + base64url of (FNV-1a-32, position) per channel.
func testCursor(names []string, pos []uint64) string {
	raw := make([]byte, 0, 12*len(names))
	for i, n := range names {
		raw = binary.BigEndian.AppendUint32(raw, CursorHash(n))
		raw = binary.BigEndian.AppendUint64(raw, pos[i])
	}
	return "1" + base64.RawURLEncoding.EncodeToString(raw)
}

// muxStream writes a multiplexed stream of names: the opening frame with
// the positions start, then each event (channel index, id, seq) with the
// cursor as it stands after it.
type muxStream struct {
	names []string
	pos   []uint64
	b     strings.Builder
}

func newMuxStream(names []string, start ...uint64) *muxStream {
	m := &muxStream{names: names, pos: slices.Clone(start)}
	fmt.Fprintf(&m.b, "retry: 2000\nid: %s\n\n", testCursor(names, m.pos))
	return m
}

func (m *muxStream) event(ch int, id uint64, seq int) *muxStream {
	m.pos[ch] = id
	fmt.Fprintf(&m.b, "id: %s\nevent: tick\ndata: {\"channel\":%q,\"id\":%d,\"data\":{\"seq\":%d,\"ts\":5}}\n\n",
		testCursor(m.names, m.pos), m.names[ch], id, seq)
	return m
}

func (m *muxStream) raw(s string) *muxStream { m.b.WriteString(s); return m }

// check runs the stream through the scanner and a MuxCheck.
func (m *muxStream) check(t *testing.T, expect []int, reason string) (Checks, MuxStats, *MuxCheck) {
	t.Helper()
	mc := NewMuxCheck(m.names, expect, false, reason)
	sc := NewScanner(bufio.NewReaderSize(strings.NewReader(m.b.String()), 64))
	for {
		f, err := sc.Next()
		if err == io.EOF {
			mc.End()
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		mc.Frame(f)
	}
	c, s := mc.Result(nil)
	return c, s, mc
}

func TestMuxCheck(t *testing.T) {
	names := []string{"a", "b", "c"}
	good := func() *muxStream {
		return newMuxStream(names, 100, 200, 300).
			event(0, 101, 1).event(1, 201, 1).event(0, 102, 2).event(2, 301, 1).event(1, 202, 2)
	}
	expect := []int{2, 2, 1}
	t.Run("clean", func(t *testing.T) {
		c, s, mc := good().check(t, expect, "")
		if c.Received != 5 || !c.Clean() || c.Incomplete != 0 || !s.Clean() || !mc.Done() {
			t.Fatalf("checks %+v, stats %+v", c, s)
		}
		if c.Subscribers != 3 || s.Pairs != 3 || s.Opened != 1 || s.EOFOther != 1 || s.StillOpen != 0 {
			t.Fatalf("checks %+v, stats %+v", c, s)
		}
		if want := len("id: \n") + 1 + 16*3; s.IDLineMin != want || s.IDLineMax != want || s.OpenLineMax != want {
			t.Fatalf("id lines %d..%d, opening %d, want %d", s.IDLineMin, s.IDLineMax, s.OpenLineMax, want)
		}
	})
	t.Run("gap", func(t *testing.T) {
		m := newMuxStream(names, 100, 200, 300).event(0, 101, 1).event(1, 202, 2).event(0, 102, 2).event(2, 301, 1)
		c, s, mc := m.check(t, expect, "")
		// b's seq 1 (id 201) never came: one missing, and an id gap
		if c.Missing != 1 || c.Incomplete != 1 || s.IDGaps != 1 || mc.Done() != true {
			t.Fatalf("checks %+v, stats %+v", c, s)
		}
	})
	t.Run("tail missing", func(t *testing.T) {
		m := newMuxStream(names, 100, 200, 300).event(0, 101, 1).event(1, 201, 1).event(2, 301, 1)
		c, _, mc := m.check(t, expect, "")
		if c.Missing != 2 || c.Incomplete != 2 || mc.Done() {
			t.Fatalf("checks %+v, done %v", c, mc.Done())
		}
	})
	t.Run("duplicate", func(t *testing.T) {
		m := good()
		m.pos[0] = 101
		m.event(0, 102, 2) // again
		c, s, _ := m.check(t, expect, "")
		if c.Duplicated != 1 || s.IDRegress != 1 {
			t.Fatalf("checks %+v, stats %+v", c, s)
		}
	})
	t.Run("out of order", func(t *testing.T) {
		m := newMuxStream(names, 100, 200, 300).event(0, 102, 2).event(0, 101, 1).event(1, 201, 1).event(1, 202, 2).event(2, 301, 1)
		c, s, _ := m.check(t, expect, "")
		if c.OutOfOrder != 1 || c.Missing != 0 || s.IDRegress != 1 || s.IDGaps != 1 {
			t.Fatalf("checks %+v, stats %+v", c, s)
		}
	})
	t.Run("cursor that does not hold the event", func(t *testing.T) {
		m := newMuxStream(names, 100, 200, 300)
		m.raw(fmt.Sprintf("id: %s\nevent: tick\ndata: {\"channel\":\"a\",\"id\":101,\"data\":{\"seq\":1,\"ts\":5}}\n\n",
			testCursor(names, []uint64{100, 200, 300}))) // slot a still at 100
		m.raw("id: 1zz\nevent: tick\ndata: {\"channel\":\"a\",\"id\":102,\"data\":{\"seq\":2,\"ts\":5}}\n\n")
		c, s, _ := m.check(t, []int{2, 0, 0}, "")
		if !c.Clean() || s.CursorBad != 1 || s.CursorOpaque != 1 {
			t.Fatalf("checks %+v, stats %+v", c, s)
		}
	})
	t.Run("opening cursor of other channels", func(t *testing.T) {
		m := &muxStream{names: names, pos: []uint64{0, 0, 0}}
		fmt.Fprintf(&m.b, "retry: 2000\nid: %s\n\n", testCursor([]string{"x", "b", "c"}, []uint64{5, 6, 7}))
		_, s, _ := m.check(t, []int{0, 0, 0}, "")
		if s.CursorBad != 1 {
			t.Fatalf("stats %+v", s)
		}
	})
	t.Run("foreign and unparsed", func(t *testing.T) {
		m := newMuxStream(names, 100, 200, 300).
			raw("id: x\nevent: tick\ndata: {\"channel\":\"zz\",\"id\":1,\"data\":{\"seq\":1,\"ts\":5}}\n\n").
			raw("id: x\nevent: tick\ndata: {\"chan\":1}\n\n")
		_, s, _ := m.check(t, []int{0, 0, 0}, "")
		if s.Foreign != 1 || s.Unparsed != 1 || s.Clean() {
			t.Fatalf("stats %+v", s)
		}
	})
	t.Run("reset then buffer", func(t *testing.T) {
		m := newMuxStream(names, 100, 200, 300).event(0, 101, 1).
			raw("id: x\nevent: realtime.reset\ndata: {\"channel\":\"a\",\"reason\":\"buffer_gap\",\"lastKnownId\":101}\n\n")
		m.pos[0] = 500
		m.event(0, 503, 3) // a new incarnation: ids checked from here
		c, s, _ := m.check(t, []int{3, 0, 0}, "")
		if c.Resets != 1 || c.Announced != 1 || c.Missing != 0 || s.IDGaps != 0 || s.IDRegress != 0 {
			t.Fatalf("checks %+v, stats %+v", c, s)
		}
	})
	t.Run("closed per channel then EOF", func(t *testing.T) {
		m := good()
		for _, n := range names {
			m.raw(fmt.Sprintf("id: x\nevent: realtime.closed\ndata: {\"channel\":%q,\"reason\":\"revoked\"}\n\n", n))
		}
		_, s, mc := m.check(t, expect, "revoked")
		if s.Closed != 3 || s.ClosedBad != 0 || s.FullyClosed != 1 || s.EOFClosed != 1 || s.EOFOther != 0 || !mc.FullyClosed() {
			t.Fatalf("stats %+v", s)
		}
	})
	t.Run("closed badly", func(t *testing.T) {
		m := good().
			raw("id: x\nevent: realtime.closed\ndata: {\"channel\":\"a\",\"reason\":\"deleted\"}\n\n").
			raw("id: x\nevent: realtime.closed\ndata: {\"channel\":\"a\",\"reason\":\"revoked\"}\n\n").
			raw("id: x\nevent: realtime.closed\ndata: {\"channel\":\"q\",\"reason\":\"revoked\"}\n\n")
		_, s, _ := m.check(t, expect, "revoked")
		// a's second, another reason, and a channel the stream lacks
		if s.Closed != 3 || s.ClosedBad != 3 || s.FullyClosed != 0 || s.EOFOther != 1 {
			t.Fatalf("stats %+v", s)
		}
	})
}

// TestMuxCheckSingle: a plain stream read by the same checker, ending with
// the single form of realtime.closed; a frame after it is counted.
func TestMuxCheckSingle(t *testing.T) {
	in := "retry: 1800\nid: 41\n\n" +
		"id: 42\nevent: tick\ndata: {\"seq\":1,\"ts\":5}\n\n" +
		"id: 44\nevent: tick\ndata: {\"seq\":2,\"ts\":5}\n\n" +
		": hb\n\n" +
		"event: realtime.closed\ndata: {\"reason\":\"revoked\"}\n\n" +
		"id: 45\nevent: tick\ndata: {\"seq\":3,\"ts\":5}\n\n"
	mc := NewMuxCheck([]string{"ch"}, []int{3}, true, "revoked")
	sc := NewScanner(bufio.NewReader(strings.NewReader(in)))
	for {
		f, err := sc.Next()
		if err != nil {
			mc.End()
			break
		}
		mc.Frame(f)
	}
	c, s := mc.Result(nil)
	if c.Received != 3 || !c.Clean() || s.IDGaps != 1 || s.Closed != 1 || s.ClosedBad != 0 || s.AfterClosed != 1 ||
		s.FullyClosed != 1 || s.EOFClosed != 1 || s.Heartbeats != 1 || s.IDLineMax != len("id: 42\n") {
		t.Fatalf("checks %+v, stats %+v", c, s)
	}
}

func TestParseMuxData(t *testing.T) {
	cases := []struct {
		in, ch, inner string
		id            uint64
		ok            bool
	}{
		{`{"channel":"a:b","id":17,"data":{"seq":1,"ts":2}}`, "a:b", `{"seq":1,"ts":2}`, 17, true},
		{`{"channel":"x","id":1795752898270790,"data":null}`, "x", `null`, 1795752898270790, true},
		{`{"id":5,"channel":"r","data":[1,2]}`, "r", `[1,2]`, 5, true},        // other member order
		{`{"channel":"q\"uote","id":5,"data":"s"}`, `q"uote`, `"s"`, 5, true}, // an escaped name
		{`{"channel":"a","id":5}`, "", "", 0, false},                          // no data
		{`{"channel":"a","data":1}`, "", "", 0, false},                        // no id
		{`{"channel":"a","id":-1,"data":1}`, "", "", 0, false},                // not an id
		{`not json`, "", "", 0, false},
	}
	for _, c := range cases {
		ch, id, inner, ok := ParseMuxData([]byte(c.in))
		if ok != c.ok || string(ch) != c.ch || id != c.id || string(inner) != c.inner {
			t.Errorf("%s: got %q %d %q %v", c.in, ch, id, inner, ok)
		}
	}
}

func TestCursorSlot(t *testing.T) {
	names := []string{"one", "two", strings.Repeat("z", 128)}
	cur := []byte(testCursor(names, []uint64{0, 1<<53 - 1, 42}))
	if len(cur) != 1+16*3 || !cursorForm(cur, 3) || cursorForm(cur, 2) {
		t.Fatalf("cursor %q", cur)
	}
	for i, want := range []uint64{0, 1<<53 - 1, 42} {
		h, pos, ok := CursorSlot(cur, i)
		if !ok || h != CursorHash(names[i]) || pos != want {
			t.Fatalf("slot %d: %x %d %v", i, h, pos, ok)
		}
	}
	if _, _, ok := CursorSlot(cur, 3); ok {
		t.Fatal("slot past the end decoded")
	}
	// FNV-1a 32 of "a" (a published test vector)
	if CursorHash("a") != 0xe40c292c {
		t.Fatalf("hash %x", CursorHash("a"))
	}
}

// TestMuxSets: each stream holds K distinct channels of the pool, the hot
// ones first; the same seed gives the same sets; events of a hot run go
// to the hot channels only; the single baseline has one connection per
// pair (per pair with events, single-hot).
func TestMuxSets(t *testing.T) {
	p := MultiplexParams{Streams: 500, K: 8, Channels: 20, Hot: 2, Events: 300, Seed: 3}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	sets := p.MuxSets()
	used := map[int]int{}
	for _, set := range sets {
		if len(set) != 8 || set[0] != 0 || set[1] != 1 {
			t.Fatalf("set %v", set)
		}
		seen := map[int]bool{}
		for _, c := range set {
			if c < 0 || c >= 20 || seen[c] {
				t.Fatalf("set %v", set)
			}
			seen[c] = true
			used[c]++
		}
	}
	if len(used) != 20 {
		t.Fatalf("channels used: %v", used)
	}
	if !slices.EqualFunc(sets, p.MuxSets(), slices.Equal[[]int]) {
		t.Fatal("sets differ for one seed")
	}
	order := p.EventOrder()
	counts := make([]int, 20)
	for _, c := range order {
		if c > 1 {
			t.Fatalf("event on channel %d of a run with 2 hot channels", c)
		}
		counts[c]++
	}
	p.Single = true
	if n := len(p.connSets(sets, counts)); n != 500*8 {
		t.Fatalf("single: %d connections", n)
	}
	p.SingleHot = true
	conns := p.connSets(sets, counts)
	if len(conns) != 500*2 || conns[0][0] != 0 || conns[1][0] != 1 {
		t.Fatalf("single-hot: %d connections, first %v %v", len(conns), conns[0], conns[1])
	}
	if err := (MultiplexParams{Streams: 1, K: 4, Channels: 3}).Validate(); err == nil {
		t.Fatal("a pool smaller than k accepted")
	}
}
