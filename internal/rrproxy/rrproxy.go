// Package rrproxy is a small round-robin TCP load balancer for tests and
// demos on loopback: each accepted connection is proxied, for its whole life,
// to the next backend in turn. HTTP keep-alive therefore keeps a client on one
// backend; balancing is per connection.
package rrproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// dialTimeout bounds the dial of one backend; a refused dial (a dead backend
// on loopback) fails at once.
const dialTimeout = 2 * time.Second

// Proxy accepts TCP connections and relays each to a backend. It is safe for
// concurrent use.
type Proxy struct {
	ln     net.Listener       // immutable
	ctx    context.Context    // cancelled by Close, aborting dials; immutable
	cancel context.CancelFunc // immutable
	wg     sync.WaitGroup     // the accept loop and every relayed connection

	mu       sync.Mutex
	backends []string              // addresses in turn order; guarded by mu
	next     uint64                // connections dispatched so far; guarded by mu
	conns    map[net.Conn]struct{} // open client and backend sides; guarded by mu
	closed   bool                  // Close has run; guarded by mu
}

// New listens on listenAddr ("127.0.0.1:0" picks a port) and starts relaying
// connections to backends, host:port addresses tried in turn.
func New(listenAddr string, backends []string) (*Proxy, error) {
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return nil, fmt.Errorf("rrproxy: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{ln: ln, ctx: ctx, cancel: cancel, conns: make(map[net.Conn]struct{})}
	p.SetBackends(backends)
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the address to dial the proxy at. When it listens on every
// interface (":0") that is 127.0.0.1 and its port.
func (p *Proxy) Addr() string {
	a := p.ln.Addr().(*net.TCPAddr)
	if a.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(a.Port))
	}
	return a.String()
}

// SetBackends replaces the backends (when a node died or came back). Relayed
// connections stay where they are; new ones go to the new list, continuing
// the turn.
func (p *Proxy) SetBackends(backends []string) {
	p.mu.Lock()
	p.backends = append([]string(nil), backends...)
	p.mu.Unlock()
}

// Backends returns the current backends.
func (p *Proxy) Backends() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.backends...)
}

// Close stops accepting, closes every relayed connection and returns once
// all of the proxy's goroutines have ended. Later calls do nothing.
func (p *Proxy) Close() error {
	p.mu.Lock()
	already := p.closed
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	var err error
	if !already {
		p.cancel()
		if err = p.ln.Close(); err != nil {
			err = fmt.Errorf("rrproxy: %w", err)
		}
	}
	p.wg.Wait()
	return err
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	backoff := time.Millisecond
	for {
		c, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil { // out of file descriptors, say: wait and retry
			time.Sleep(backoff)
			backoff = min(2*backoff, 100*time.Millisecond)
			continue
		}
		backoff = time.Millisecond
		if !p.track(c) {
			c.Close()
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// track records c so Close can close it; it refuses once Close has run.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

// untrack forgets and closes c.
func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}
