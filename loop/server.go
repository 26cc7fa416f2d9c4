// Package loop is the reactor of realtime: it accepts connections on
// cloudwego/netpoll, parses requests with httpx and hands them to a
// Handler, queues outbound frames per connection, and writes them from a
// few flusher goroutines with as few syscalls as possible. No goroutine is
// held per connection, not even a stalled one.
package loop

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cloudwego/netpoll"
	"github.com/workkit/realtime/httpx"
)

// Handler serves the requests of a Server.
type Handler interface {
	// ServeRequest handles one request on c: it queues a reply (Conn.Reply), starts
	// a stream (Conn.StartStream), or defers (Conn.Defer). req and every
	// slice in it are valid only during the call. It runs on a netpoll
	// worker goroutine and must not block.
	ServeRequest(c *Conn, req *httpx.Request)
}

// Server is one reactor. Create it with New, run it with Serve, stop it
// with Shutdown.
type Server struct {
	cfg     Config  // immutable
	handler Handler // immutable
	stats   Stats

	evl    netpoll.EventLoop
	flushq *flushQueue
	wpoll  *writePoller
	timers *timers
	wg     sync.WaitGroup // flushers

	draining atomic.Bool
	mu       sync.Mutex
	lnFd     int   // guarded by mu; the listening socket, -1 before Serve
	conns    *Conn // guarded by mu; list of open connections (Conn.prev/next), for shutdown
}

func init() {
	// Size netpoll's per-connection input buffer for idle streams: its
	// default (8 KiB up front) dominates the memory of an idle connection.
	// Larger requests grow it on demand. Configure must run in init.
	netpoll.LinkBufferCap = 256
	_ = netpoll.Configure(netpoll.Config{BufferSize: 256, LoggerOutput: io.Discard})
}

// New returns a server that hands requests to h. cfg must be valid.
func New(cfg Config, h Handler) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	wp, err := newWritePoller()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		handler: h,
		flushq:  newFlushQueue(),
		wpoll:   wp,
		lnFd:    -1,
	}
	s.timers = newTimers(&s.cfg)
	s.evl, err = netpoll.NewEventLoop(s.onRequest, netpoll.WithOnPrepare(s.onPrepare))
	if err != nil {
		wp.stop()
		return nil, err
	}
	for i := 0; i < cfg.Flushers; i++ {
		s.wg.Add(1)
		go s.flusher()
	}
	go wp.run()
	go s.timers.run()
	return s, nil
}

// Stats returns the server's counters.
func (s *Server) Stats() *Stats { return &s.stats }

// Serve accepts connections on ln until Shutdown; it then returns nil.
func (s *Server) Serve(ln net.Listener) error {
	nln, err := netpoll.ConvertListener(ln)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.lnFd = nln.Fd()
	s.mu.Unlock()
	err = s.evl.Serve(nln)
	if s.Draining() {
		return nil
	}
	return err
}

// Draining reports whether Shutdown has begun.
func (s *Server) Draining() bool { return s.draining.Load() }

// onPrepare sets up a new connection before netpoll registers it.
func (s *Server) onPrepare(nc netpoll.Connection) context.Context {
	c := &Conn{Context: context.Background(), srv: s, nc: nc, fd: nc.(netpoll.Conn).Fd()}
	_ = nc.AddCloseCallback(c.onNetpollClose) // runs before netpoll's own, which closes the fd
	s.stats.Accepted.Add(1)
	c.overload = s.stats.Open.Add(1) > int64(s.cfg.MaxConns)
	s.track(c)
	s.timers.connOpened(c)
	if s.Draining() {
		c.Close(CloseShutdown)
	}
	return c
}

// onRequest runs when input arrived on a connection (one at a time per
// connection, on a netpoll worker). It consumes everything: netpoll calls
// again while unread input remains.
func (s *Server) onRequest(ctx context.Context, nc netpoll.Connection) error {
	c := ctx.(*Conn)
	r := nc.Reader()
	n := r.Len()
	c.rmu.Lock()
	switch c.state() {
	case stateRequest, stateDeferred:
		if buf, err := r.Peek(n); err == nil {
			c.readInput(buf)
		}
	case stateStream:
		c.discard(n) // a stream's peer has nothing more to say
	}
	_ = r.Skip(n)
	c.rmu.Unlock()
	_ = r.Release()
	c.flushOwn()
	return nil
}

// connClosed is the last step of a connection's close callback; streamed
// says whether it was counted as a stream.
func (s *Server) connClosed(c *Conn, streamed bool) {
	s.untrack(c)
	s.stats.Open.Add(-1)
	if streamed {
		s.stats.Streams.Add(-1)
	}
	s.stats.closedByKind[c.closeReason()].Add(1)
}

// track adds c to the list of open connections.
func (s *Server) track(c *Conn) {
	s.mu.Lock()
	c.next = s.conns
	if s.conns != nil {
		s.conns.prev = c
	}
	s.conns = c
	s.mu.Unlock()
}

// untrack removes c from the list of open connections.
func (s *Server) untrack(c *Conn) {
	s.mu.Lock()
	if c.prev != nil {
		c.prev.next = c.next
	} else if s.conns == c {
		s.conns = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next = nil, nil
	s.mu.Unlock()
}

// openConns returns the open connections.
func (s *Server) openConns() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Conn
	for c := s.conns; c != nil; c = c.next {
		out = append(out, c)
	}
	return out
}

// Shutdown stops accepting, lets goodbye (if not nil) queue a last frame
// on every stream (the retry hint of SPEC 5), closes every connection once
// its queue is written and its in-flight request answered, and stops the
// reactor. It returns ctx's error if connections remained at its deadline;
// they are closed regardless.
//
// Only the first call does anything; later ones return nil at once.
func (s *Server) Shutdown(ctx context.Context, goodbye func(c *Conn)) error {
	if s.draining.Swap(true) {
		return nil
	}
	s.mu.Lock()
	lnFd := s.lnFd
	s.mu.Unlock()
	if lnFd >= 0 {
		// Stop accepting: a shut-down listener makes netpoll's poller see a
		// hang-up and Serve return. The fd itself is closed by evl.Shutdown.
		_ = syscall.Shutdown(lnFd, syscall.SHUT_RD)
	}
	for _, c := range s.openConns() {
		s.drain(c, goodbye)
	}
	err := s.waitClosed(ctx)
	if err != nil {
		for _, c := range s.openConns() {
			c.Close(CloseShutdown)
		}
	}
	cctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.evl.Shutdown(cctx)
	s.flushq.close()
	s.wg.Wait()
	s.timers.stop()
	s.wpoll.stop()
	return err
}

// drain ends one connection gracefully: a stream gets goodbye's frame and
// closes once it is written; a connection between requests closes now; one
// in the middle of a request closes after its reply (Conn.Reply checks
// Draining); a deferred one is answered at once if its handler set
// SetOnDrain, else when its reply comes.
func (s *Server) drain(c *Conn, goodbye func(*Conn)) {
	c.setReason(CloseShutdown)
	switch c.state() {
	case stateStream:
		if goodbye != nil {
			goodbye(c)
		}
		c.endAfterReply(CloseShutdown)
		c.schedule()
		return
	case stateDeferred:
		// A deferred reply is owed: it closes the connection after it, or
		// the deadline does. A handler that can answer at once (a parked
		// long-poll) said so with SetOnDrain.
		c.mu.Lock()
		fn := c.onDrain
		c.onDrain = nil
		c.mu.Unlock()
		if fn != nil {
			fn()
		}
		return
	}
	if !c.rmu.TryLock() {
		return // a request is being served: its reply ends the connection
	}
	deferred := c.state() == stateDeferred
	if !deferred {
		c.endAfterReply(CloseShutdown)
	}
	c.rmu.Unlock()
	if !deferred {
		c.schedule()
	}
}

// waitClosed polls until no connection is open or ctx ends.
func (s *Server) waitClosed(ctx context.Context) error {
	tk := time.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	for s.stats.Open.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tk.C:
		}
	}
	return nil
}

// ExpireAt closes the stream c at the wall-clock time at (a credential's
// expiry).
func (c *Conn) ExpireAt(at time.Time) { c.srv.timers.expireAt(c, at) }

// Server returns the server c belongs to.
func (c *Conn) Server() *Server { return c.srv }
