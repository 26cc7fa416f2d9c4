package ring

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func frame(id uint64) *Frame {
	f := NewFrame()
	f.ID = id
	f.AppendString("x")
	return f
}

func ids(r *Ring, after uint64) ([]uint64, error) {
	var got []uint64
	err := r.After(after, func(f *Frame) { got = append(got, f.ID) })
	return got, err
}

func TestRingKeepsNewest(t *testing.T) {
	r := New(3)
	for id := uint64(101); id <= 105; id++ {
		if ev := r.Push(frame(id)); ev != nil {
			if want := id - 3; ev.ID != want {
				t.Fatalf("push %d evicted %d, want %d", id, ev.ID, want)
			}
			ev.Release()
		}
	}
	if o, _ := r.Oldest(); o != 103 {
		t.Fatalf("oldest %d, want 103", o)
	}
	if n, _ := r.Newest(); n != 105 {
		t.Fatalf("newest %d, want 105", n)
	}
	cases := []struct {
		after uint64
		want  []uint64
		err   error
	}{
		{102, []uint64{103, 104, 105}, nil},
		{103, []uint64{104, 105}, nil},
		{105, nil, nil},
		{200, nil, nil},
		{101, nil, ErrEvicted},
	}
	for _, c := range cases {
		got, err := ids(r, c.after)
		if !errors.Is(err, c.err) || len(got) != len(c.want) {
			t.Fatalf("After(%d) = %v, %v; want %v, %v", c.after, got, err, c.want, c.err)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("After(%d) = %v, want %v", c.after, got, c.want)
			}
		}
	}
	r.Clear()
	if r.Len() != 0 {
		t.Fatalf("len after clear %d", r.Len())
	}
	if _, ok := r.Oldest(); ok {
		t.Fatal("oldest on empty ring")
	}
	r.Push(frame(500))
	if got, _ := ids(r, 499); len(got) != 1 || got[0] != 500 {
		t.Fatalf("after clear and push: %v", got)
	}
}

func TestRingZeroCapacity(t *testing.T) {
	r := New(0)
	f := frame(1)
	if ev := r.Push(f); ev != f {
		t.Fatal("zero-capacity ring must hand the frame back")
	}
	f.Release()
	if got, err := ids(r, 0); err != nil || got != nil {
		t.Fatalf("After on empty ring: %v %v", got, err)
	}
}

func TestRingWrapsManyTimes(t *testing.T) {
	const capacity = 7
	r := New(capacity)
	for id := uint64(1); id <= 1000; id++ {
		if ev := r.Push(frame(id)); ev != nil {
			ev.Release()
		}
		var want uint64 = 1
		if id > capacity {
			want = id - capacity + 1
		}
		got, err := ids(r, want-1)
		if err != nil || len(got) != r.Len() || got[0] != want || got[len(got)-1] != id {
			t.Fatalf("at %d: %v %v", id, got, err)
		}
	}
}

func TestRingRejectsGaps(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("non-consecutive push did not panic")
		}
	}()
	r := New(4)
	r.Push(frame(1))
	r.Push(frame(3))
}

func TestFrameRefcount(t *testing.T) {
	f := NewFrame()
	f.AppendString("hello")
	f.Retain(2)
	f.Release()
	f.Release()
	if string(f.Bytes()) != "hello" {
		t.Fatal("frame recycled while referenced")
	}
	f.Release()
	defer func() {
		if recover() == nil {
			t.Fatal("over-release did not panic")
		}
	}()
	g := NewFrame()
	g.Release()
	g.refs.Store(0) // simulate a stale holder of a recycled frame
	g.buf = bufPool.Get()
	g.Release()
}

func TestStaticFrame(t *testing.T) {
	s := Static([]byte(": hb\n\n"))
	s.Retain(5)
	for i := 0; i < 10; i++ {
		s.Release()
	}
	if string(s.Bytes()) != ": hb\n\n" || s.Len() != 6 {
		t.Fatal("static frame changed")
	}
}

// TestRingDropOldestAgainstModel pushes and drops at random and compares
// the ring with a plain slice: contents, oldest/newest, lookups and cost.
func TestRingDropOldestAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, capacity := range []int{1, 2, 5, 16} {
		r := New(capacity)
		var model []*Frame
		next := uint64(1000)
		for step := 0; step < 5000; step++ {
			if rng.IntN(3) == 0 {
				f := r.DropOldest()
				if (f == nil) != (len(model) == 0) || (f != nil && f != model[0]) {
					t.Fatalf("cap %d step %d: DropOldest = %v, model %d frames", capacity, step, f, len(model))
				}
				if f != nil {
					model = model[1:]
					f.Release()
				}
			} else {
				f := frame(next)
				next++
				full := len(model) == capacity
				ev := r.Push(f)
				if (ev != nil) != full {
					t.Fatalf("cap %d step %d: Push evicted %v with %d frames stored", capacity, step, ev != nil, len(model))
				}
				if ev != nil {
					if len(model) == 0 || ev != model[0] {
						t.Fatalf("cap %d step %d: Push evicted the wrong frame", capacity, step)
					}
					model = model[1:]
					ev.Release()
				}
				model = append(model, f)
			}
			checkModel(t, r, model, next-1)
		}
		r.Clear()
	}
}

func checkModel(t *testing.T, r *Ring, model []*Frame, newest uint64) {
	t.Helper()
	var cost int64
	for _, f := range model {
		cost += f.Cost()
	}
	if r.Len() != len(model) || r.Cost() != cost {
		t.Fatalf("len %d cost %d, model %d %d", r.Len(), r.Cost(), len(model), cost)
	}
	if len(model) == 0 {
		return
	}
	if o, _ := r.Oldest(); o != model[0].ID {
		t.Fatalf("oldest %d, model %d", o, model[0].ID)
	}
	if n, _ := r.Newest(); n != newest {
		t.Fatalf("newest %d, model %d", n, newest)
	}
	got, err := ids(r, model[0].ID-1)
	if err != nil || len(got) != len(model) {
		t.Fatalf("After(oldest-1) = %v, %v; model %d frames", got, err, len(model))
	}
	for i, id := range got {
		if id != model[i].ID {
			t.Fatalf("After: %v", got)
		}
	}
	if model[0].ID > 1 {
		if _, err := ids(r, model[0].ID-2); !errors.Is(err, ErrEvicted) {
			t.Fatalf("After(oldest-2): %v, want ErrEvicted", err)
		}
	}
}
