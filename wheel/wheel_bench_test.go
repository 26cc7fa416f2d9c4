package wheel_test

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/workkit/realtime/wheel"
)

// The benchmarks model one process's connections: benchN heartbeats spread
// over benchSpread, on a wheel of benchTick covering a little more than that.
const (
	benchN      = 20_000
	benchSpread = 30 * time.Second
	benchTick   = 10 * time.Millisecond
	benchSlots  = 4096 // 40.96s per revolution
)

type benchConn struct {
	heartbeat wheel.Timer[*benchConn]
}

// benchDeadlines returns benchN offsets spread uniformly over benchSpread.
func benchDeadlines() []int64 {
	rng := rand.New(rand.NewPCG(1, 2))
	d := make([]int64, benchN)
	for i := range d {
		d[i] = 1 + rng.Int64N(int64(benchSpread))
	}
	return d
}

// newBenchWheel returns a wheel with benchN armed connections, and their deadlines.
func newBenchWheel() (*wheel.Wheel[*benchConn], []benchConn, []int64) {
	w := wheel.New[*benchConn](benchTick, benchSlots, 0)
	conns := make([]benchConn, benchN)
	deadlines := benchDeadlines()
	for i := range conns {
		conns[i].heartbeat.Value = &conns[i]
		w.Arm(&conns[i].heartbeat, deadlines[i])
	}
	return w, conns, deadlines
}

func BenchmarkWheelArm(b *testing.B) {
	w, _, deadlines := newBenchWheel()
	spare := make([]benchConn, benchN)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if i%benchN == 0 && i > 0 {
			b.StopTimer()
			for j := range spare {
				w.Stop(&spare[j].heartbeat)
			}
			b.StartTimer()
		}
		w.Arm(&spare[i%benchN].heartbeat, deadlines[i%benchN])
	}
}

func BenchmarkWheelReset(b *testing.B) {
	w, conns, deadlines := newBenchWheel()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		w.Arm(&conns[i%benchN].heartbeat, deadlines[(i+1)%benchN])
	}
}

func BenchmarkWheelStop(b *testing.B) {
	w, conns, deadlines := newBenchWheel()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if i%benchN == 0 && i > 0 {
			b.StopTimer()
			for j := range conns {
				w.Arm(&conns[j].heartbeat, deadlines[j])
			}
			b.StartTimer()
		}
		w.Stop(&conns[i%benchN].heartbeat)
	}
}

// BenchmarkWheelAdvance advances one tick per op; each fired heartbeat is
// re-armed benchSpread later, so the wheel stays at benchN timers.
func BenchmarkWheelAdvance(b *testing.B) {
	w, _, _ := newBenchWheel()
	var now int64
	fired := 0
	fire := func(t *wheel.Timer[*benchConn]) {
		fired++
		w.Arm(t, now+int64(benchSpread))
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		now += int64(benchTick)
		w.Advance(now, fire)
	}
	if fired > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(fired), "ns/fire")
	}
}

// newBenchTimers returns benchN runtime timers set far enough out not to fire.
func newBenchTimers() ([]*time.Timer, []time.Duration) {
	deadlines := benchDeadlines()
	durs := make([]time.Duration, benchN)
	timers := make([]*time.Timer, benchN)
	for i := range timers {
		durs[i] = time.Hour + time.Duration(deadlines[i])
		timers[i] = time.AfterFunc(durs[i], func() {})
	}
	return timers, durs
}

func stopAll(timers []*time.Timer) {
	for _, t := range timers {
		if t != nil {
			t.Stop()
		}
	}
}

func BenchmarkTimeAfterFunc(b *testing.B) {
	timers, durs := newBenchTimers()
	defer stopAll(timers)
	spare := make([]*time.Timer, benchN)
	defer stopAll(spare)
	f := func() {}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if i%benchN == 0 && i > 0 {
			b.StopTimer()
			stopAll(spare)
			b.StartTimer()
		}
		spare[i%benchN] = time.AfterFunc(durs[i%benchN], f)
	}
}

func BenchmarkTimeReset(b *testing.B) {
	timers, durs := newBenchTimers()
	defer stopAll(timers)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		timers[i%benchN].Reset(durs[(i+1)%benchN])
	}
}

func BenchmarkTimeStop(b *testing.B) {
	timers, durs := newBenchTimers()
	defer stopAll(timers)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if i%benchN == 0 && i > 0 {
			b.StopTimer()
			for j, t := range timers {
				t.Reset(durs[j])
			}
			b.StartTimer()
		}
		timers[i%benchN].Stop()
	}
}

// BenchmarkTimeAfterFuncFire is the runtime's nearest to firing from Advance:
// each op is one zero-duration AfterFunc that the runtime fires on its own
// goroutine, with benchN other timers pending.
func BenchmarkTimeAfterFuncFire(b *testing.B) {
	timers, _ := newBenchTimers()
	defer stopAll(timers)
	var wg sync.WaitGroup
	done := func() { wg.Done() }
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		wg.Add(1)
		time.AfterFunc(0, done)
	}
	wg.Wait()
}
