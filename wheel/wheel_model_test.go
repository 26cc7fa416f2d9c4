package wheel

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// model is the reference: a map from timer index to deadline, and a clock.
type model struct {
	t        *testing.T
	rng      *rand.Rand
	w        *Wheel[int]
	timers   []Timer[int]
	deadline map[int]int64 // armed timers
	now      int64
	rev      int64 // one revolution, in nanoseconds

	// Per Advance: timers the model says must fire, and the order check.
	pending  map[int]bool
	oldNow   int64
	lastTick int64
	ordered  bool
}

func TestModel(t *testing.T) {
	for seed := range uint64(24) {
		rng := rand.New(rand.NewPCG(seed, 42))
		tick := []time.Duration{1, 7, time.Millisecond}[rng.IntN(3)]
		slots := []int{1, 3, 8, 64}[rng.IntN(4)]
		now := rng.Int64N(1e12)
		t.Run(fmt.Sprintf("seed%d/tick%d/slots%d", seed, tick, slots), func(t *testing.T) {
			m := &model{t: t, rng: rng, w: New[int](tick, slots, now), now: now,
				timers: make([]Timer[int], 64), deadline: map[int]int64{}}
			m.rev = int64(tick) * (m.w.mask + 1)
			for i := range m.timers {
				m.timers[i].Value = i
			}
			for range 5000 {
				m.step()
				m.check()
			}
		})
	}
}

// step does one random operation on both the wheel and the model.
func (m *model) step() {
	switch r := m.rng.IntN(100); {
	case r < 40:
		m.arm(m.rng.IntN(len(m.timers)))
	case r < 55:
		m.stop(m.rng.IntN(len(m.timers)))
	default:
		m.advance(m.now + m.randomStep())
	}
}

func (m *model) randomStep() int64 {
	switch r := m.rng.IntN(100); {
	case r < 10:
		return 0
	case r < 15:
		return -m.rng.Int64N(m.rev + 1)
	case r < 20:
		return m.rng.Int64N(10*m.rev + 1)
	default:
		return m.rng.Int64N(m.w.tick*3 + 1)
	}
}

func (m *model) arm(i int) {
	d := m.now + m.rng.Int64N(5*m.rev+1) - m.rng.Int64N(m.rev+1)
	m.w.Arm(&m.timers[i], d)
	m.deadline[i] = d
	delete(m.pending, i) // armed from fire: not in this Advance
}

func (m *model) stop(i int) {
	_, armed := m.deadline[i]
	if got := m.w.Stop(&m.timers[i]); got != armed {
		m.t.Fatalf("Stop(%d)=%v, model says %v", i, got, armed)
	}
	delete(m.deadline, i)
	delete(m.pending, i)
}

func (m *model) advance(now int64) {
	if now < m.now {
		m.w.Advance(now, m.fire)
		return
	}
	m.pending = map[int]bool{}
	for i, d := range m.deadline {
		if d <= now {
			m.pending[i] = true
		}
	}
	m.oldNow, m.lastTick = m.now, m.now/m.w.tick
	m.ordered = now/m.w.tick-m.now/m.w.tick <= m.w.mask
	m.now = now
	m.w.Advance(now, m.fire)
	if len(m.pending) != 0 {
		m.t.Fatalf("Advance(%d) did not fire %v", now, m.pending)
	}
	m.pending = nil
}

func (m *model) fire(t *Timer[int]) {
	i := t.Value
	if !m.pending[i] {
		m.t.Fatalf("timer %d (deadline %d) fired at %d unexpectedly", i, t.deadline, m.now)
	}
	if t.Armed() || t.Deadline() != m.deadline[i] {
		m.t.Fatalf("timer %d in fire: Armed=%v Deadline=%d", i, t.Armed(), t.Deadline())
	}
	if tick := max(t.deadline, m.oldNow) / m.w.tick; m.ordered && tick < m.lastTick {
		m.t.Fatalf("timer %d in tick %d fired after tick %d", i, tick, m.lastTick)
	}
	m.lastTick = max(t.deadline, m.oldNow) / m.w.tick
	delete(m.pending, i)
	delete(m.deadline, i)
	switch r := m.rng.IntN(10); {
	case r < 3:
		m.arm(i)
	case r < 5:
		m.stop(m.rng.IntN(len(m.timers)))
	case r < 7:
		m.arm(m.rng.IntN(len(m.timers)))
	}
}

// check compares the observable state and the lists with the model.
func (m *model) check() {
	w := m.w
	if w.Len() != len(m.deadline) {
		m.t.Fatalf("Len=%d, model %d", w.Len(), len(m.deadline))
	}
	next, ok := w.NextDeadline()
	want, wantOK := int64(0), false
	for _, d := range m.deadline {
		if !wantOK || d < want {
			want, wantOK = d, true
		}
	}
	if next != want || ok != wantOK {
		m.t.Fatalf("NextDeadline=%d,%v model %d,%v", next, ok, want, wantOK)
	}
	for i := range m.timers {
		d, armed := m.deadline[i]
		if tt := &m.timers[i]; tt.Armed() != armed || armed && tt.Deadline() != d {
			m.t.Fatalf("timer %d: Armed=%v Deadline=%d, model %v %d", i, tt.Armed(), tt.Deadline(), armed, d)
		}
	}
	m.checkLists()
}

// checkLists verifies the links, slots and count of every list.
func (m *model) checkLists() {
	w, n := m.w, 0
	if w.cursor != nil || w.firing {
		m.t.Fatal("Advance state left set")
	}
	for s, head := range w.lists {
		var prev *Timer[int]
		for t := head; t != nil; prev, t = t, t.next {
			n++
			due := s == len(w.lists)-1
			if t.prev != prev || t.slot != s || t.wheel != w || due != (t.deadline <= w.now) ||
				!due && int(t.deadline/w.tick&w.mask) != s {
				m.t.Fatalf("timer %d misplaced in list %d (deadline %d, now %d)", t.Value, s, t.deadline, w.now)
			}
		}
	}
	if n != w.count {
		m.t.Fatalf("lists hold %d timers, count %d", n, w.count)
	}
}
