package broker_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workkit/realtime/broker"
)

// dialSmallBuffer connects with a 4 KiB receive buffer, so that a peer
// that never reads fills up quickly.
func dialSmallBuffer(t testing.TB, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	c, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestPublishNeverWaitsForSubscribers: with 1,000 subscribers that never
// read, publishing far more than their sockets hold still completes, every
// publish counts them as delivered (queued), and a subscriber that reads
// gets every event in order.
func TestPublishNeverWaitsForSubscribers(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 connections")
	}
	s := startServer(t, func(c *broker.Config) { c.Channel.MaxSubscribers = 2000 })
	const stalled = 1000
	req := get("/sse/fan", bearerHeader(subToken(t)))
	for i := 0; i < stalled; i++ {
		c := dialSmallBuffer(t, s.nodeAddr(i)) // spread over the nodes
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
	}
	reader := s.subscribe("fan")
	waitFor(t, "1,001 subscribers", func() bool {
		return s.subscribers("fan") == stalled+1
	})
	payload := fmt.Sprintf("%q", strings.Repeat("p", 2000))
	const events = 200 // 400 KB per subscriber: far beyond their socket buffers
	var ids []uint64
	for i := 0; i < events; i++ {
		p := s.publish("fan", "big", payload)
		if p.Delivered != stalled+1 {
			t.Fatalf("publish %d delivered to %d, want %d", i, p.Delivered, stalled+1)
		}
		ids = append(ids, p.ID)
	}
	for _, id := range ids {
		if got := reader.nextEvent(); got != frame(id, "big", payload) {
			t.Fatalf("reader got %.60q, want event %d", got, id)
		}
	}
	if s.metric("realtime_write_stalls_total") == 0 {
		t.Fatal("no socket ever stalled: the test did not exercise full buffers")
	}
}
