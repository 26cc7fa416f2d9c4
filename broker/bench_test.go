package broker_test

import (
	"bufio"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/workkit/realtime/broker"
)

// BenchmarkPublishLatency measures the round trip of one publish on a
// keep-alive connection to a channel with one reading subscriber, without
// and with a second subscriber that never reads (its socket stalls at
// once). ns/op is the mean round trip; p50 and p99 are reported too. The
// two figures side by side show what a stalled subscriber costs a
// publisher.
func BenchmarkPublishLatency(b *testing.B) {
	for _, stalled := range []bool{false, true} {
		name := map[bool]string{false: "no-stalled", true: "one-stalled"}[stalled]
		b.Run(name, func(b *testing.B) {
			s := startServer(b, func(c *broker.Config) { c.Loop.MaxPendingBytes = 1 << 30 }) // keep the stalled one
			reader := s.dial()
			io.WriteString(reader, get("/sse/lat", bearerHeader(subToken(b))))
			go io.Copy(io.Discard, reader)
			if stalled {
				c := dialSmallBuffer(b, s.nodeAddr(0))
				io.WriteString(c, get("/sse/lat", bearerHeader(subToken(b))))
			}
			want := 1 + map[bool]int{false: 0, true: 1}[stalled]
			for s.subscribers("lat") != want {
				time.Sleep(time.Millisecond)
			}
			pub := s.dial()
			pub.SetDeadline(time.Time{})
			reader.SetDeadline(time.Time{})
			br := bufio.NewReader(pub)
			req := []byte(post("/publish/lat", `{"event":"tick","data":{"payload":"0123456789012345678901234567890123456789"}}`, bearerHeader(pubToken(b))))
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				pub.Write(req)
				if r := readResponse(b, br); r.status != 200 {
					b.Fatalf("publish: %d %s", r.status, r.body)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}
