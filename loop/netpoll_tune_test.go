package loop

import (
	"net"
	"reflect"
	"testing"
	"time"
)

// TestSharedBarrier checks the go:linkname of netpoll_tune.go against the
// netpoll in go.mod: every accepted connection must hold the one shared
// output barrier. A netpoll release that renames the pool, the field or
// the type fails here (or, for the pool variable, at link time), loudly.
func TestSharedBarrier(t *testing.T) {
	s := testServer(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	defer s.evl.Shutdown(t.Context())
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	var conns []*Conn
	for deadline := time.Now().Add(5 * time.Second); len(conns) < 3; conns = s.openConns() {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections accepted, want 3", len(conns))
		}
		time.Sleep(5 * time.Millisecond)
	}
	shared := netpollBarrierPool.Get()
	for _, c := range conns {
		f := reflect.Indirect(reflect.ValueOf(c.nc)).FieldByName("outputBarrier")
		if !f.IsValid() || f.Kind() != reflect.Pointer {
			t.Fatalf("netpoll's connection has no outputBarrier pointer field (%v): revisit netpoll_tune.go", f.Kind())
		}
		if f.Pointer() != reflect.ValueOf(shared).Pointer() {
			t.Fatal("a connection holds a barrier of its own: the shared barrier of netpoll_tune.go is not in effect")
		}
	}
}
