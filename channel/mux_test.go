package channel

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// TestMuxOpenWhilePublishing: events published on two channels while
// their multiplexed stream opens come after the opening frame, each
// channel's in order and once, and every cursor line names each channel's
// position as of its frame (positions never go back; the frame's own
// channel is at the frame's id).
func TestMuxOpenWhilePublishing(t *testing.T) {
	reg, _ := testRegistry(1000, 0)
	names := []string{"a", "b"}
	out := &endRecorder{}
	s := NewMuxStream(out, names)
	out.lines = s
	for i, name := range names {
		sub, err := reg.Subscribe([]byte(name), s.Member(i), Open{Mux: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.Start(i, sub.Joined())
	}
	const per = 300
	var wg sync.WaitGroup
	started := make(chan struct{}, len(names))
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				reg.Publish([]byte(name), []byte("e"), []byte(`{}`), nil)
				if i == 10 {
					started <- struct{}{}
				}
			}
		}()
	}
	<-started
	<-started // both channels have frames held: the stream is still opening
	s.Open(headFrame(), 0)
	wg.Wait()

	got := out.got()
	if !strings.HasPrefix(got[0], "HEAD") {
		t.Fatalf("first frame %q, want the opening", got[0])
	}
	last := map[string]uint64{}
	seen := map[string]int{}
	prev := make([]uint64, len(names))
	for i := 1; i+1 < len(got); i += 2 {
		line, frame := got[i], got[i+1]
		if !strings.HasPrefix(line, "id: ") || !strings.HasSuffix(line, "\n") {
			t.Fatalf("frame %d: %q is not a cursor line", i, line)
		}
		pos, has := ParseCursor([]byte(strings.TrimSuffix(strings.TrimPrefix(line, "id: "), "\n")), names)
		var ev struct {
			Channel string `json:"channel"`
			ID      uint64 `json:"id"`
		}
		data := frame[strings.Index(frame, "data: ")+len("data: ") : len(frame)-2]
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("frame %d: %q: %v", i+1, frame, err)
		}
		if ev.ID <= last[ev.Channel] {
			t.Fatalf("channel %s: id %d after %d", ev.Channel, ev.ID, last[ev.Channel])
		}
		last[ev.Channel] = ev.ID
		seen[ev.Channel]++
		for j := range names {
			if !has[j] || pos[j] < prev[j] {
				t.Fatalf("frame %d: cursor %v (has %v) goes back from %v", i, pos, has, prev)
			}
			if names[j] == ev.Channel && pos[j] != ev.ID {
				t.Fatalf("frame %d: cursor puts %s at %d, the frame is %d", i, ev.Channel, pos[j], ev.ID)
			}
		}
		copy(prev, pos)
	}
	if seen["a"] != per || seen["b"] != per || len(got) != 1+4*per {
		t.Fatalf("got %d frames: a %d, b %d events, want %d each", len(got), seen["a"], seen["b"], per)
	}
}
