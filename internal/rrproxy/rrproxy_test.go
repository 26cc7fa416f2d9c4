package rrproxy

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestRoundRobin(t *testing.T) {
	a, b, c := newBackend(t, namer("a")), newBackend(t, namer("b")), newBackend(t, namer("c"))
	p := newProxy(t, a.addr(), b.addr(), c.addr())
	var got []string
	for range 9 {
		got = append(got, greeting(t, p))
	}
	if s := strings.Join(got, ""); s != "abcabcabc" {
		t.Errorf("connections went to %s, want abcabcabc", s)
	}
	for _, be := range []*backend{a, b, c} {
		if n := be.accepted(); n != 3 {
			t.Errorf("backend %s accepted %d connections, want 3", be.addr(), n)
		}
	}
}

func TestFailover(t *testing.T) {
	a, c := newBackend(t, namer("a")), newBackend(t, namer("c"))
	p := newProxy(t, a.addr(), deadAddr(t), c.addr())
	var got []string
	for range 6 {
		got = append(got, greeting(t, p))
	}
	if s := strings.Join(got, ""); s != "accacc" {
		t.Errorf("connections went to %s, want accacc (the dead one's turns go to the next)", s)
	}
	p.SetBackends([]string{deadAddr(t), deadAddr(t)})
	if g := greeting(t, p); g != "" {
		t.Errorf("with every backend dead the client got %q, want the connection closed", g)
	}
	p.SetBackends(nil)
	if g := greeting(t, p); g != "" {
		t.Errorf("with no backends the client got %q", g)
	}
	p.SetBackends([]string{c.addr()})
	if g := greeting(t, p); g != "c" {
		t.Errorf("after SetBackends the client got %q, want c", g)
	}
	if bs := p.Backends(); len(bs) != 1 || bs[0] != c.addr() {
		t.Errorf("Backends() = %v", bs)
	}
}

// TestHalfClose checks that a FIN passes through in each direction while the
// other direction keeps working.
func TestHalfClose(t *testing.T) {
	up := newBackend(t, func(c net.Conn) {
		body, _ := io.ReadAll(c)
		io.WriteString(c, "got "+string(body))
	})
	p := newProxy(t, up.addr())
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "request")
	c.(*net.TCPConn).CloseWrite()
	reply, err := io.ReadAll(c)
	if err != nil || string(reply) != "got request" {
		t.Errorf("after the client's FIN: %q, %v; want \"got request\" then EOF", reply, err)
	}
}

// TestBackendHalfClose: the backend sends its FIN first and still reads what
// the client sends after it.
func TestBackendHalfClose(t *testing.T) {
	got := make(chan string, 1)
	be := newBackend(t, func(c net.Conn) {
		io.WriteString(c, "bye\n")
		c.(*net.TCPConn).CloseWrite()
		body, _ := io.ReadAll(c)
		got <- string(body)
	})
	p := newProxy(t, be.addr())
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || line != "bye\n" {
		t.Fatalf("read %q, %v", line, err)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("after the backend's FIN: %v, want EOF", err)
	}
	io.WriteString(c, "late words")
	c.(*net.TCPConn).CloseWrite()
	select {
	case body := <-got:
		if body != "late words" {
			t.Errorf("backend read %q after its FIN", body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("backend never saw the client's FIN")
	}
}

func TestWildcardListenAddr(t *testing.T) {
	be := newBackend(t, namer("a"))
	p, err := New(":0", []string{be.addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !strings.HasPrefix(p.Addr(), "127.0.0.1:") {
		t.Errorf("Addr() = %q for \":0\", want 127.0.0.1:PORT", p.Addr())
	}
	if g := greeting(t, p); g != "a" {
		t.Errorf("through %s: %q", p.Addr(), g)
	}
	if _, err := New("127.0.0.1:-1", nil); err == nil || !strings.HasPrefix(err.Error(), "rrproxy: ") {
		t.Errorf("New on a bad address: %v", err)
	}
}
