package loop

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"unsafe"

	"github.com/workkit/realtime/ring"
)

// testLines is a CursorLines whose line names the last slot and id it was
// given ("id: SS-IIIIII\n", slot -1 as "--"), counting its calls.
type testLines struct{ calls int }

func (*testLines) LineLen() int { return len("id: 00-000000\n") }

func (l *testLines) AppendLine(dst []byte, slot int, id uint64) []byte {
	l.calls++
	if slot < 0 {
		return fmt.Appendf(dst, "id: ---%06d\n", id)
	}
	return fmt.Appendf(dst, "id: %02d-%06d\n", slot, id)
}

func eventFrame(id uint64, body string) *ring.Frame {
	f := frameOf(body)
	f.ID = id
	return f
}

// TestMarkedFramesLeaveAfterTheirLines: a marked frame is written after
// its stream's line for its slot and id, built once when it is written;
// unmarked frames (a heartbeat, a reply queued before the stream was
// bound) go between pairs, never inside one.
func TestMarkedFramesLeaveAfterTheirLines(t *testing.T) {
	s := testServer(t, nil)
	c, peer := pipeConn(t, s)
	c.ws = writeQueued // hold the flushers off until everything is queued
	c.enqueue(frameOf("an earlier reply\n"), false, false)
	lines := &testLines{}
	c.BindCursor(lines)
	c.SendMarked(eventFrame(1, "a\n\n"), 0, true)
	c.Send(frameOf(": hb\n\n"))
	c.SendMarked(eventFrame(2, "bb\n\n"), 3, false)
	c.SendMarked(eventFrame(0, "closed\n\n"), -1, false)
	want := "an earlier reply\nid: 00-000001\na\n\n: hb\n\nid: 03-000002\nbb\n\nid: ---000000\nclosed\n\n"
	c.mu.Lock()
	c.ws = writeIdle
	c.mu.Unlock()
	c.flushOwn()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(peer, got); err != nil || string(got) != want {
		t.Fatalf("peer read %q (%v), want %q", got, err, want)
	}
	if lines.calls != 3 || c.pending != 0 || c.whole != 0 || len(c.queue) != 0 {
		t.Fatalf("after flush: %d lines built (want 3), pending %d whole %d queue %d", lines.calls, c.pending, c.whole, len(c.queue))
	}
}

// TestMarkedPartialWrites: however the socket splits the bytes (inside a
// line, between a line and its frame, inside a frame, across many
// entries and more than one gather's iovecs), the stream is written
// exactly once and in order, each line built once.
func TestMarkedPartialWrites(t *testing.T) {
	s := testServer(t, nil)
	for _, step := range []int{1, 2, 3, 5, 7, 13, 14, 15, 64, 1 << 20} {
		c := &Conn{srv: s, ws: writeQueued} // socket-less: this test plays the socket
		lines := &testLines{}
		c.BindCursor(lines)
		var want bytes.Buffer
		marked := 0
		for i := range 40 { // 40 pairs: more than one gather's maxIovecs
			body := fmt.Sprintf("event %d\n\n", i)
			if i%7 == 3 {
				c.enqueue(frameOf(body), true, false)
				want.WriteString(body)
				continue
			}
			c.SendMarked(eventFrame(uint64(i), body), i%4, i%2 == 0)
			fmt.Fprintf(&want, "id: %02d-%06d\n%s", i%4, i, body)
			marked++
		}
		if c.pending != want.Len() {
			t.Fatalf("step %d: pending %d, want %d", step, c.pending, want.Len())
		}
		var wrote []byte
		sc := new(flushScratch)
		for len(c.queue) > 0 {
			c.mu.Lock()
			var gathered []byte
			for _, v := range c.gatherLocked(sc) {
				gathered = append(gathered, unsafe.Slice(v.Base, v.Len)...)
			}
			n := min(step, len(gathered))
			wrote = append(wrote, gathered[:n]...)
			c.consumeLocked(n, sc)
			c.mu.Unlock()
			sc.finish(&s.stats)
		}
		if !bytes.Equal(wrote, want.Bytes()) {
			t.Fatalf("step %d: wrote\n%q\nwant\n%q", step, wrote, want.Bytes())
		}
		if lines.calls != marked || c.pending != 0 || c.whole != 0 || c.off != 0 || c.lines.built != 0 || len(c.lines.buf) != 0 {
			t.Fatalf("step %d: %d lines built (want %d), pending %d whole %d off %d built %d buf %d",
				step, lines.calls, marked, c.pending, c.whole, c.off, c.lines.built, len(c.lines.buf))
		}
	}
}

// TestSendMarkedUnbound: a marked frame on a connection no stream is bound
// to is refused (and released), not written without its line.
func TestSendMarkedUnbound(t *testing.T) {
	s := testServer(t, nil)
	c := &Conn{srv: s, ws: writeQueued}
	f := eventFrame(1, "x\n\n")
	f.Retain(1)
	if c.SendMarked(f, 0, true) {
		t.Fatal("an unbound connection took a marked frame")
	}
	f.Release()
}
