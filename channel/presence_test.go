package channel

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/workkit/realtime/ring"
)

// endRecorder is a recorder that can be ended (a connection): End records
// its frame and "END". As a multiplexed stream's connection (lines set),
// it records each marked frame's cursor line, then the frame.
type endRecorder struct {
	recorder
	lines *MuxStream
}

func (r *endRecorder) End(f *ring.Frame) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		if f != nil {
			f.Release()
		}
		return false
	}
	if f != nil {
		r.frames = append(r.frames, string(f.Bytes()))
		f.Release()
	}
	r.frames = append(r.frames, "END")
	r.closed = true
	return true
}

// SendMarked records the line and the frame as a connection writes them:
// together, the line built in the order the frames come (under r.mu, as
// loop.Conn builds it under its lock).
func (r *endRecorder) SendMarked(f *ring.Frame, slot int, _ bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer f.Release()
	if r.closed {
		return false
	}
	r.frames = append(r.frames, string(r.lines.AppendLine(nil, slot, f.ID)), string(f.Bytes()))
	return true
}

// TestPresenceAndDisconnect: presence counts streams by principal, lists
// none for anonymous ones and at most MaxPresence; a disconnect ends the
// matching streams once, and presence forgets them at once.
func TestPresenceAndDisconnect(t *testing.T) {
	reg, _ := testRegistry(8, 0)
	c, err := reg.get([]byte("room"), true)
	if err != nil {
		t.Fatal(err)
	}
	sinks := map[string][]*endRecorder{}
	for _, who := range []string{"u1", "u2", "u1", "", "u3"} {
		r := &endRecorder{}
		if _, err := c.Subscribe(r, Open{Principal: who}); err != nil {
			t.Fatal(err)
		}
		sinks[who] = append(sinks[who], r)
	}
	p := c.Presence()
	if p.Subscribers != 5 || !slices.Equal(p.Principals, []PrincipalCount{{"u1", 2}, {"u2", 1}, {"u3", 1}}) {
		t.Fatalf("presence %+v", p)
	}
	n, _ := reg.Disconnect(Revocation{Principal: "u1", HasPrincipal: true}, nil)
	if n != 2 {
		t.Fatalf("disconnect u1: %d ended, want 2", n)
	}
	for _, r := range sinks["u1"] {
		got := r.got()
		if len(got) < 2 || got[len(got)-2] != "event: realtime.closed\ndata: {\"reason\":\"revoked\"}\n\n" || got[len(got)-1] != "END" {
			t.Fatalf("u1's stream got %q", got)
		}
	}
	if p := c.Presence(); p.Subscribers != 3 || len(p.Principals) != 2 {
		t.Fatalf("presence after the disconnect %+v", p)
	}
	if n, _ := reg.Disconnect(Revocation{Principal: "u1", HasPrincipal: true}, nil); n != 0 {
		t.Fatalf("second disconnect ended %d", n)
	}
	for i := range MaxPresence + 1 {
		if _, err := c.Subscribe(nopSink{}, Open{Principal: "p" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if p := c.Presence(); len(p.Principals) != MaxPresence || !p.Truncated {
		t.Fatalf("presence of %d principals: %d listed, truncated %v", MaxPresence+3, len(p.Principals), p.Truncated)
	}
}

// TestMuxChannelEndedWhileOpening: a channel of a multiplexed stream ended
// before the stream opened gets its realtime.closed after the opening; the
// stream ends when its last channel does.
func TestMuxChannelEndedWhileOpening(t *testing.T) {
	reg, _ := testRegistry(8, 0)
	out := &endRecorder{}
	s := NewMuxStream(out, []string{"a", "b"})
	out.lines = s
	for i, name := range []string{"a", "b"} {
		if _, err := reg.Subscribe([]byte(name), s.Member(i), Open{Mux: true, Principal: "u1"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := reg.Delete([]byte("a"), nil); n != 1 {
		t.Fatalf("delete a: %d ended", n)
	}
	s.Open(headFrame(), 0)
	got := out.got()
	if len(got) != 3 || got[2] != `event: realtime.closed`+"\n"+`data: {"channel":"a","reason":"deleted"}`+"\n\n" {
		t.Fatalf("stream got %q, want the opening, a cursor line and a's realtime.closed", got)
	}
	if n, _ := reg.Disconnect(Revocation{Principal: "u1", HasPrincipal: true}, nil); n != 1 {
		t.Fatalf("disconnect: %d ended, want b's membership", n)
	}
	if got := out.got(); got[len(got)-1] != "END" {
		t.Fatalf("stream not ended after its last channel: %q", got)
	}
	if reg.Lookup([]byte("b")).Subscribers() != 0 {
		t.Fatal("b still counts the stream")
	}
}

// TestOccupancyTransitions: the hook hears a channel's first stream and
// its last one leaving, once each; polls do not count.
func TestOccupancyTransitions(t *testing.T) {
	reg, _ := testRegistry(8, 0)
	var calls []string
	reg.Watch(func(name string, occupied bool) {
		calls = append(calls, name+map[bool]string{true: "+", false: "-"}[occupied])
	})
	a, _ := reg.Subscribe([]byte("c"), nopSink{}, Open{}, nil)
	b, _ := reg.Subscribe([]byte("c"), nopSink{}, Open{}, nil)
	_, w, _ := reg.Poll([]byte("c"), PollQuery{Last: ^uint64(0) >> 1, HasLast: false}, nopSink{}, nil)
	a.Cancel()
	b.Cancel()
	b.Cancel()
	if w != nil {
		w.Cancel()
	}
	r := &endRecorder{}
	if _, err := reg.Subscribe([]byte("c"), r, Open{}, nil); err != nil {
		t.Fatal(err)
	}
	reg.Delete([]byte("c"), nil)
	if got := strings.Join(calls, " "); got != "c+ c- c+ c-" {
		t.Fatalf("occupancy calls %q, want c+ c- c+ c-", got)
	}
}
