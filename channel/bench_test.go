package channel

import (
	"fmt"
	"testing"
)

// BenchmarkPublish measures framing an event once and handing it to every
// subscriber's Sink (the publisher's share of a fan-out), per subscriber
// count; ns/op is per publish.
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1, 100, 1000, 10000} {
		b.Run(fmt.Sprint(n, "-subscribers"), func(b *testing.B) {
			r, _ := testRegistry(50, 0)
			for i := 0; i < n; i++ {
				r.Subscribe([]byte("c"), nopSink{}, Open{}, nil)
			}
			name, ev, data := []byte("c"), []byte("run.stage"), []byte(`{"stage":"ai_verify","progress":40}`)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r.Publish(name, ev, data, nil)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
		})
	}
}

// BenchmarkFrame measures SSE framing alone.
func BenchmarkFrame(b *testing.B) {
	ev, data := []byte("run.stage"), []byte(`{"stage":"ai_verify","progress":40}`)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendEvent(buf[:0], 1795752898270790+uint64(i), ev, data)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkMuxPublish is BenchmarkPublish with multiplexed subscribers of
// 8 channels each, the event on one of them: per delivery, the shared
// multiplexed frame is queued marked with its channel (the cursor line is
// the connection's work when it writes: loop's BenchmarkFlushMarked).
func BenchmarkMuxPublish(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprint(n, "-streams"), func(b *testing.B) {
			r, _ := testRegistry(50, 0)
			muxSubscribers(b, r, n, 8)
			name, ev, data := []byte("c0"), []byte("run.stage"), []byte(`{"stage":"ai_verify","progress":40}`)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r.Publish(name, ev, data, nil)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
		})
	}
}
