package ring

import "testing"

func BenchmarkPushEvict(b *testing.B) {
	b.ReportAllocs()
	r := New(50)
	for i := 0; i < b.N; i++ {
		f := NewFrame()
		f.ID = uint64(i + 1)
		f.AppendString("id: 1\nevent: x\ndata: {}\n\n")
		if ev := r.Push(f); ev != nil {
			ev.Release()
		}
	}
}

func BenchmarkAfter(b *testing.B) {
	b.ReportAllocs()
	r := New(50)
	for id := uint64(1); id <= 100; id++ {
		f := NewFrame()
		f.ID = id
		if ev := r.Push(f); ev != nil {
			ev.Release()
		}
	}
	n := 0
	fn := func(*Frame) { n++ }
	for i := 0; i < b.N; i++ {
		_ = r.After(75, fn)
	}
}
