package loop

import (
	"bytes"
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/cloudwego/netpoll"
	"github.com/workkit/realtime/httpx"
	"github.com/workkit/realtime/ring"
)

// nopHandler answers nothing; the tests here drive connections directly.
type nopHandler struct{}

func (nopHandler) ServeRequest(*Conn, *httpx.Request) {}

// testServer returns a running Server (flushers, timers, write poller) for
// white-box tests of its connections.
func testServer(t testing.TB, mutate func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.HeartbeatFrame = []byte(": hb\n\n")
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg, nopHandler{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopTestServer(s) })
	return s
}

// stopTestServer stops s's goroutines; later calls do nothing.
func stopTestServer(s *Server) {
	if s.draining.Swap(true) {
		return
	}
	s.flushq.close()
	s.wg.Wait()
	s.timers.stop()
	s.wpoll.stop()
}

// pipeConn returns a Conn writing to one end of a Unix socket pair, and
// the other end to read what it wrote. The Conn has no netpoll connection:
// tests must not close it through netpoll.
func pipeConn(t testing.TB, s *Server) (*Conn, *os.File) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.SetNonblock(fds[0], true)
	peer := os.NewFile(uintptr(fds[1]), "peer")
	t.Cleanup(func() {
		stopTestServer(s) // no flusher may touch the fd once it is closed
		syscall.Close(fds[0])
		peer.Close()
	})
	c := &Conn{srv: s, nc: closeOnly{}, fd: fds[0]}
	s.timers.connOpened(c)
	return c, peer
}

// closeOnly stands in for the netpoll connection of a test Conn: a
// timeout or an error may close it, which then does nothing (the test owns
// the fd). Any other method would panic: the loop calls none on a Conn
// it did not accept.
type closeOnly struct{ netpoll.Connection }

func (closeOnly) Close() error { return nil }

func frameOf(s string) *ring.Frame {
	f := ring.NewFrame()
	f.AppendString(s)
	return f
}

// TestQueuedFramesLeaveInOneWrite: whatever piles up on a connection
// before its flush is written with a single sendmsg, in order.
func TestQueuedFramesLeaveInOneWrite(t *testing.T) {
	s := testServer(t, nil)
	c, peer := pipeConn(t, s)
	var want bytes.Buffer
	for i := 0; i < 10; i++ {
		f := frameOf("id: " + string(rune('0'+i)) + "\n\n")
		want.Write(f.Bytes())
		if !c.enqueue(f, true, false) { // takes over our reference
			t.Fatal("enqueue refused")
		}
	}
	c.flushOwn()
	if w, fr := s.stats.Writes.Load(), s.stats.FramesOut.Load(); w != 1 || fr != 10 {
		t.Fatalf("writes %d frames %d, want 1 write of 10 frames", w, fr)
	}
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(peer, got); err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("peer read %q (%v), want %q", got, err, want.Bytes())
	}
	if c.pending != 0 || len(c.queue) != 0 || c.ws != writeIdle {
		t.Fatalf("after flush: pending %d queue %d ws %v", c.pending, len(c.queue), c.ws)
	}
}

// TestConsumePartialWrites checks the queue bookkeeping when the socket
// takes part of a frame.
func TestConsumePartialWrites(t *testing.T) {
	s := testServer(t, nil)
	c := &Conn{srv: s}
	sc := new(flushScratch)
	for _, b := range []string{"aaaa", "bb", "cccccc"} {
		c.enqueue(frameOf(b), true, false)
	}
	steps := []struct {
		n, off, frames, pending, released int
	}{
		{3, 3, 3, 9, 0}, // inside the first frame
		{1, 0, 2, 8, 1}, // finishes it exactly
		{3, 1, 1, 5, 2}, // the second and one byte of the third
		{5, 0, 0, 0, 3}, // the rest
	}
	for i, st := range steps {
		c.mu.Lock()
		c.consumeLocked(st.n, sc)
		c.mu.Unlock()
		if c.off != st.off || len(c.queue) != st.frames || c.pending != st.pending || len(sc.release) != st.released {
			t.Fatalf("step %d: off %d frames %d pending %d released %d, want %+v",
				i, c.off, len(c.queue), c.pending, len(sc.release), st)
		}
	}
	sc.finish(&s.stats)
}

// TestPendingLimit: a connection that would go over MaxPendingBytes
// refuses the frame and is closed as a slow consumer.
func TestPendingLimit(t *testing.T) {
	s := testServer(t, func(c *Config) { c.MaxPendingBytes = 10 })
	c := &Conn{srv: s}
	f := frameOf("0123456789")
	defer f.Release()
	c.ws = writeQueued // keep the flushers away: this Conn has no socket
	f.Retain(1)
	if !c.enqueue(f, true, true) {
		t.Fatal("a frame within the limit was refused")
	}
	f.Retain(1)
	if c.enqueue(f, true, true) {
		t.Fatal("a frame over the limit was accepted")
	}
	if c.state() != stateClosing || c.closeReason() != CloseSlowConsumer {
		t.Fatalf("closing %v reason %v, want a slow-consumer close", c.state() == stateClosing, c.closeReason())
	}
	f.Retain(1)
	if c.enqueue(f, true, true) {
		t.Fatal("a closing connection accepted a frame")
	}
	c.mu.Lock()
	for _, q := range c.queue {
		q.Release()
	}
	c.queue = nil
	c.mu.Unlock()
}

func TestCloseReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range CloseReasons() {
		name := r.String()
		if name == "" || name == "unknown" || seen[name] {
			t.Fatalf("reason %d has name %q", r, name)
		}
		seen[name] = true
	}
	if CloseReason(200).String() != "unknown" {
		t.Fatal("out-of-range reason")
	}
}

// TestFinishGroupsReferences: references are dropped exactly once per
// written frame, however the frames repeat and interleave.
func TestFinishGroupsReferences(t *testing.T) {
	shared := frameOf("shared")
	shared.Retain(40) // 40 writes, plus the test's own reference
	sc := new(flushScratch)
	var others []*ring.Frame
	for i := 0; i < 40; i++ {
		sc.release = append(sc.release, shared)
		if i%3 == 0 { // more distinct frames than the grouping table holds
			f := frameOf("other")
			others = append(others, f)
			sc.release = append(sc.release, f)
		}
	}
	sc.finish(new(Stats))
	if string(shared.Bytes()) != "shared" {
		t.Fatal("shared frame recycled while the test still holds it")
	}
	shared.Release() // the last reference: panics if finish dropped too many
	if len(sc.release) != 0 {
		t.Fatal("scratch not emptied")
	}
}
