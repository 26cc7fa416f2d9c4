package rrproxy

import (
	"io"
	"net"
)

// serve relays client to the backend whose turn it is, or closes it when no
// backend accepts.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	defer p.untrack(client)
	backend := p.dial()
	if backend == nil {
		return
	}
	if !p.track(backend) {
		backend.Close()
		return
	}
	defer p.untrack(backend)
	relay(client, backend)
}

// dial connects to the backend whose turn it is, trying each following one
// once when a dial fails. It returns nil when none answers.
func (p *Proxy) dial() net.Conn {
	p.mu.Lock()
	backends, turn := p.backends, p.next
	p.next++
	p.mu.Unlock()
	d := net.Dialer{Timeout: dialTimeout}
	for i := range backends {
		addr := backends[(turn+uint64(i))%uint64(len(backends))]
		if c, err := d.DialContext(p.ctx, "tcp", addr); err == nil {
			return c
		}
		if p.ctx.Err() != nil {
			return nil
		}
	}
	return nil
}

// relay copies both ways between a and b until both directions have ended.
func relay(a, b net.Conn) {
	done := make(chan struct{})
	go func() {
		copyHalf(b, a)
		close(done)
	}()
	copyHalf(a, b)
	<-done
}

// copyHalf copies src to dst. When src ends with EOF it passes the FIN on
// (CloseWrite on dst) and leaves the other direction running; on an error it
// closes both connections, which ends the other direction too.
func copyHalf(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if err == nil {
		if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			return
		}
	}
	src.Close()
	dst.Close()
}
