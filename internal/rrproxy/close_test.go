package rrproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// streamer writes a line every millisecond until the connection fails.
func streamer(c net.Conn) {
	for {
		if _, err := io.WriteString(c, "data: tick\n"); err != nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCloseEndsStreams(t *testing.T) {
	be := newBackend(t, streamer)
	p := newProxy(t, be.addr())
	var clients []*bufio.Reader
	for range 3 {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(c)
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, r)
	}
	start := time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	for i, r := range clients {
		if _, err := io.Copy(io.Discard, r); err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("client %d after Close: %v, want EOF or a reset", i, err)
		}
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Error("proxy still accepts after Close")
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCloseWithSilentBackend(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// A backend that never accepts: dials complete into its backlog, so
	// the proxy relays to it; Close must still end everything.
	p := newProxy(t, ln.Addr().String())
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(50 * time.Millisecond)
	done := make(chan struct{})
	go func() {
		p.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Close hung on a connection to a backend that never accepts")
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	stream := newBackend(t, streamer)
	echo := newBackend(t, namer("e"))
	p, err := New("127.0.0.1:0", []string{stream.addr(), echo.addr(), deadAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		bufio.NewReader(c).ReadString('\n')
		if i%2 == 0 {
			c.Close()
		} else {
			defer c.Close()
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if s := proxyStacks(); s != "" {
		t.Fatalf("proxy goroutines left after Close:\n%s", s)
	}
	stream.close()
	echo.close()
	waitGoroutines(t, before)
}

// proxyStacks returns the stacks of goroutines running the proxy's code.
func proxyStacks() string {
	buf := make([]byte, 1<<20)
	var left []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "rrproxy.(*Proxy)") || strings.Contains(g, "rrproxy.relay") || strings.Contains(g, "rrproxy.copyHalf") {
			left = append(left, g)
		}
	}
	return strings.Join(left, "\n\n")
}
