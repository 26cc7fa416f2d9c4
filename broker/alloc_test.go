//go:build !race

package broker_test

import (
	"bytes"
	"io"
	"net"
	"testing"
)

// roundTrip writes req on c and reads one response of exactly n bytes into
// buf; it allocates nothing itself.
func roundTrip(t *testing.T, c net.Conn, req, buf []byte) {
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
}

// allocsPerRequest measures the allocations of the whole process per
// request req on a keep-alive connection whose answers are all as long as
// the first one.
func allocsPerRequest(t *testing.T, s *server, req []byte) float64 {
	c := s.dial()
	defer c.Close()
	// Learn the answer's length from a first request.
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 4096)
	n, err := c.Read(first)
	if err != nil || !bytes.HasPrefix(first[:n], []byte("HTTP/1.1 200")) {
		t.Fatalf("first answer: %q %v", first[:n], err)
	}
	buf := make([]byte, n)
	for i := 0; i < 100; i++ { // warm the pools
		roundTrip(t, c, req, buf)
	}
	return testing.AllocsPerRun(2000, func() { roundTrip(t, c, req, buf) })
}

// TestPublishAllocs: serving a publish authorized by a JWT (the cached
// token path) on the memory engine allocates nothing beyond what any
// request costs the reactor (measured on /healthz in the same run: two, in
// netpoll's dispatch of a read to a worker). A closure per publish used to
// allocate. It measures the memory engine's path whatever the suite's
// topology: a publish through Redis allocates by nature (see redisengine's
// benchmarks).
func TestPublishAllocs(t *testing.T) {
	s := startServerOn(t, topologies["memory"], nil)
	s.subscribe("alloc") // one subscriber: the publish fans out
	base := allocsPerRequest(t, s, []byte(get("/healthz")))
	pub := allocsPerRequest(t, s, []byte(post("/publish/alloc", `{"event":"e","data":{"n":1}}`, bearerHeader(pubToken(t)))))
	if pub > base {
		t.Fatalf("a publish allocates %.2f times, a request to /healthz %.2f", pub, base)
	}
	t.Logf("allocations per request: publish %.2f, healthz %.2f", pub, base)
}
