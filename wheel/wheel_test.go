package wheel_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/workkit/realtime/wheel"
)

const ms = int64(time.Millisecond)

type tm = wheel.Timer[int]

// newTimers returns n unarmed timers whose Value is their index.
func newTimers(n int) []tm {
	ts := make([]tm, n)
	for i := range ts {
		ts[i].Value = i
	}
	return ts
}

// advance moves w to now and returns the Values of the fired timers in order.
func advance(w *wheel.Wheel[int], now int64) []int {
	var fired []int
	w.Advance(now, func(t *tm) { fired = append(fired, t.Value) })
	return fired
}

func expectFired(t *testing.T, w *wheel.Wheel[int], now int64, want ...int) {
	t.Helper()
	got := advance(w, now)
	if !slices.Equal(got, want) {
		t.Fatalf("Advance(%d): fired %v, want %v", now, got, want)
	}
}

func TestFiresAtDeadlineNotBefore(t *testing.T) {
	w := wheel.New[int](10*time.Millisecond, 8, 0)
	ts := newTimers(1)
	w.Arm(&ts[0], 15*ms)
	if !ts[0].Armed() || ts[0].Deadline() != 15*ms {
		t.Fatalf("Armed=%v Deadline=%d", ts[0].Armed(), ts[0].Deadline())
	}
	expectFired(t, w, 10*ms)
	expectFired(t, w, 15*ms-1)
	expectFired(t, w, 15*ms, 0)
	if ts[0].Armed() || w.Len() != 0 {
		t.Fatalf("after fire: Armed=%v Len=%d", ts[0].Armed(), w.Len())
	}
	expectFired(t, w, 100*ms)
}

func TestPastDeadlines(t *testing.T) {
	w := wheel.New[int](10*time.Millisecond, 8, 1000*ms)
	ts := newTimers(3)
	w.Arm(&ts[0], 500*ms)
	w.Arm(&ts[1], 1000*ms) // exactly now
	w.Arm(&ts[2], -5*ms)
	if w.Len() != 3 {
		t.Fatalf("Len=%d, want 3", w.Len())
	}
	got := advance(w, 1000*ms) // same time: still fires the due ones
	slices.Sort(got)
	if !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("fired %v, want [0 1 2]", got)
	}
	expectFired(t, w, 2000*ms)
}

func TestAdvanceBackwardsDoesNothing(t *testing.T) {
	w := wheel.New[int](time.Millisecond, 8, 100*ms)
	ts := newTimers(1)
	w.Arm(&ts[0], 50*ms)
	expectFired(t, w, 99*ms)
	expectFired(t, w, 100*ms, 0)
}

func TestRearmMoves(t *testing.T) {
	w := wheel.New[int](10*time.Millisecond, 8, 0)
	ts := newTimers(2)
	w.Arm(&ts[0], 20*ms)
	w.Arm(&ts[0], 50*ms) // later
	w.Arm(&ts[1], 50*ms)
	w.Arm(&ts[1], 20*ms) // earlier
	if w.Len() != 2 {
		t.Fatalf("Len=%d, want 2", w.Len())
	}
	expectFired(t, w, 30*ms, 1)
	expectFired(t, w, 49*ms)
	expectFired(t, w, 50*ms, 0)
	expectFired(t, w, 500*ms)
}

func TestStop(t *testing.T) {
	w := wheel.New[int](time.Millisecond, 8, 0)
	ts := newTimers(2)
	if w.Stop(&ts[0]) {
		t.Fatal("Stop of a zero timer reported armed")
	}
	w.Arm(&ts[0], 5*ms)
	w.Arm(&ts[1], 5*ms)
	if !w.Stop(&ts[0]) || ts[0].Armed() || w.Len() != 1 {
		t.Fatalf("Stop: Armed=%v Len=%d", ts[0].Armed(), w.Len())
	}
	if w.Stop(&ts[0]) {
		t.Fatal("second Stop reported armed")
	}
	expectFired(t, w, 10*ms, 1)
}

func TestRearmFromFire(t *testing.T) {
	w := wheel.New[int](time.Millisecond, 8, 0)
	ts := newTimers(2)
	w.Arm(&ts[0], 3*ms)
	w.Arm(&ts[1], 4*ms)
	fires := 0
	periodic := func(tt *tm) {
		fires++
		if tt.Armed() {
			t.Fatal("timer armed inside fire")
		}
		w.Arm(tt, tt.Deadline()-ms) // already due: next Advance, not this one
	}
	w.Advance(10*ms, periodic)
	if fires != 2 || w.Len() != 2 {
		t.Fatalf("fires=%d Len=%d, want 2 2", fires, w.Len())
	}
	w.Advance(10*ms, periodic) // same time: fires the re-armed ones once more
	if fires != 4 || w.Len() != 2 {
		t.Fatalf("fires=%d Len=%d, want 4 2", fires, w.Len())
	}
	w.Advance(10*ms, func(tt *tm) { w.Arm(tt, 12*ms) })
	expectFired(t, w, 11*ms)
	got := advance(w, 12*ms)
	if len(got) != 2 {
		t.Fatalf("fired %v, want both", got)
	}
}

func TestStopFromFireSameSlot(t *testing.T) {
	w := wheel.New[int](10*time.Millisecond, 8, 0)
	ts := newTimers(4)
	for i := range ts {
		w.Arm(&ts[i], 11*ms+int64(i)) // all in the same tick
	}
	fired := 0
	w.Advance(20*ms, func(*tm) {
		fired++
		for i := range ts {
			w.Stop(&ts[i])
		}
	})
	if fired != 1 || w.Len() != 0 {
		t.Fatalf("fired=%d Len=%d, want 1 0", fired, w.Len())
	}
}

func TestStopAndArmFromFireLaterSlot(t *testing.T) {
	w := wheel.New[int](10*time.Millisecond, 8, 0)
	ts := newTimers(4)
	w.Arm(&ts[0], 10*ms)
	w.Arm(&ts[1], 30*ms)
	w.Arm(&ts[2], 40*ms)
	w.Advance(50*ms, func(tt *tm) {
		switch tt.Value {
		case 0:
			w.Stop(&ts[1])
			w.Arm(&ts[2], 45*ms) // moved, still due: fires next Advance
			w.Arm(&ts[3], 60*ms) // new, not due
		default:
			t.Fatalf("timer %d fired", tt.Value)
		}
	})
	if w.Len() != 2 || ts[1].Armed() {
		t.Fatalf("Len=%d ts[1].Armed=%v", w.Len(), ts[1].Armed())
	}
	expectFired(t, w, 50*ms, 2)
	expectFired(t, w, 60*ms, 3)
}

func TestDeadlineOrderAcrossSlots(t *testing.T) {
	w := wheel.New[int](time.Millisecond, 64, 0)
	ts := newTimers(50)
	for i, p := range rand.Perm(len(ts)) {
		w.Arm(&ts[i], int64(p+1)*ms)
	}
	var deadlines []int64
	w.Advance(60*ms, func(tt *tm) { deadlines = append(deadlines, tt.Deadline()) })
	if len(deadlines) != len(ts) || !slices.IsSorted(deadlines) {
		t.Fatalf("deadlines fired out of order: %v", deadlines)
	}
}

func TestManyRevolutions(t *testing.T) {
	w := wheel.New[int](time.Millisecond, 8, 0) // one revolution is 8ms
	ts := newTimers(2)
	w.Arm(&ts[0], 103*ms)
	w.Arm(&ts[1], 3*ms) // same slot, this revolution
	expectFired(t, w, 3*ms, 1)
	for now := 4 * ms; now < 103*ms; now += ms {
		expectFired(t, w, now)
	}
	if w.Len() != 1 {
		t.Fatalf("Len=%d, want 1", w.Len())
	}
	expectFired(t, w, 103*ms, 0)
}

func TestLargeJump(t *testing.T) {
	w := wheel.New[int](time.Millisecond, 16, 0)
	ts := newTimers(1000)
	for i := range ts {
		w.Arm(&ts[i], rand.Int64N(20_000*ms))
	}
	w.Arm(&ts[0], 20_001*ms) // stays
	counts := make([]int, len(ts))
	w.Advance(20_000*ms, func(tt *tm) { counts[tt.Value]++ })
	for i, c := range counts[1:] {
		if c != 1 {
			t.Fatalf("timer %d fired %d times", i+1, c)
		}
	}
	if counts[0] != 0 || w.Len() != 1 {
		t.Fatalf("timer 0 fired %d times, Len=%d", counts[0], w.Len())
	}
	expectFired(t, w, time.Hour.Nanoseconds(), 0)
}

func TestLen(t *testing.T) {
	w := wheel.New[int](time.Millisecond, 4, 0)
	ts := newTimers(10)
	steps := []struct {
		do   func()
		want int
	}{
		{func() { w.Arm(&ts[0], 5*ms) }, 1},
		{func() { w.Arm(&ts[1], 50*ms) }, 2},
		{func() { w.Arm(&ts[0], 6*ms) }, 2},
		{func() { w.Stop(&ts[1]) }, 1},
		{func() { w.Stop(&ts[1]) }, 1},
		{func() { w.Arm(&ts[2], -1) }, 2},
		{func() { advance(w, 5*ms) }, 1},
		{func() { advance(w, 6*ms) }, 0},
	}
	for i, s := range steps {
		s.do()
		if w.Len() != s.want {
			t.Fatalf("step %d: Len=%d, want %d", i, w.Len(), s.want)
		}
	}
}

func TestNextDeadline(t *testing.T) {
	w := wheel.New[int](time.Millisecond, 8, 0)
	ts := newTimers(3)
	check := func(want int64, ok bool) {
		t.Helper()
		got, gotOK := w.NextDeadline()
		if got != want || gotOK != ok {
			t.Fatalf("NextDeadline=%d,%v want %d,%v", got, gotOK, want, ok)
		}
	}
	check(0, false)
	w.Arm(&ts[0], 100*ms) // many revolutions away
	check(100*ms, true)
	w.Arm(&ts[1], 9*ms) // next revolution, earlier slot than ts[0]
	check(9*ms, true)
	w.Arm(&ts[2], 5*ms)
	check(5*ms, true)
	expectFired(t, w, 5*ms, 2)
	check(9*ms, true)
	w.Arm(&ts[2], 2*ms) // already due
	check(2*ms, true)
	expectFired(t, w, 9*ms, 2, 1)
	check(100*ms, true)
}

func TestTimerInTwoWheelsPanics(t *testing.T) {
	w1 := wheel.New[int](time.Millisecond, 8, 0)
	w2 := wheel.New[int](time.Millisecond, 8, 0)
	ts := newTimers(1)
	w1.Arm(&ts[0], ms)
	for name, f := range map[string]func(){
		"Arm":  func() { w2.Arm(&ts[0], ms) },
		"Stop": func() { w2.Stop(&ts[0]) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s into another wheel did not panic", name)
				}
			}()
			f()
		}()
	}
	expectFired(t, w1, ms, 0)
	w2.Arm(&ts[0], 2*ms) // fine once it is disarmed
	expectFired(t, w2, 2*ms, 0)
}
