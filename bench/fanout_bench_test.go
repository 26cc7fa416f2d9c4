package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/workkit/realtime/broker"
	"github.com/workkit/realtime/loadtest/load"
)

// startBroker runs the real server in-process on a loopback port with
// --auth none and returns its address.
func startBroker(b *testing.B) string {
	b.Helper()
	cfg := broker.DefaultConfig()
	cfg.Auth = "none"
	cfg.AdminAddr = ""
	cfg.Channel.MaxSubscribers = 20000
	br, err := broker.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = br.Serve(ln) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = br.Shutdown(ctx)
	})
	return ln.Addr().String()
}

// BenchmarkPublishFanout publishes events through the real server
// (in-process, real loopback sockets) to N subscriber connections read by
// raw-TCP scanners, and reports the time per delivered event. ns/op is per
// published event, all N deliveries included; the loader's reading runs in
// the same process, so allocs/op include its (allocation-free) scanning.
func BenchmarkPublishFanout(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) { benchFanout(b, n) })
	}
}

func benchFanout(b *testing.B, n int) {
	t := &load.Target{Name: "realtime", Dialect: load.Realtime, Addr: startBroker(b)}
	var got atomic.Int64
	for range n {
		st, err := load.OpenStream(t, "bench", "", load.DialOptions{}, 4096)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Conn.Close() })
		go readEvents(st, &got)
	}
	pub, err := load.DialPublisher(t)
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	replies := make(chan error, 1)
	data := []byte(`{"seq":1,"ts":1,"p":"0123456789012345678901234567890123456789"}`)
	b.ReportAllocs()
	b.ResetTimer()
	go func() { replies <- readReplies(pub, b.N, n) }()
	for i := 0; i < b.N; i++ {
		if err := pub.Send("bench", "tick", data); err != nil {
			b.Fatal(err)
		}
		if i%16 == 15 || i == b.N-1 {
			if err := pub.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := <-replies; err != nil {
		b.Fatal(err)
	}
	for want := int64(b.N) * int64(n); got.Load() < want; {
		time.Sleep(50 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(int64(b.N)*int64(n)), "ns/delivery")
}

// readEvents counts the event frames of one stream until it ends.
func readEvents(st *load.Stream, got *atomic.Int64) {
	for {
		f, err := st.Sc.Next()
		if err != nil {
			return
		}
		if f.HasData {
			got.Add(1)
		}
	}
}

// readReplies checks that every publish reached all n subscribers.
func readReplies(p *load.Publisher, count, n int) error {
	for range count {
		status, delivered, body, err := p.ReadReply()
		if err != nil {
			return err
		}
		if status != 200 || delivered != n {
			return fmt.Errorf("publish: %d (delivered %d) %s", status, delivered, body)
		}
	}
	return nil
}
