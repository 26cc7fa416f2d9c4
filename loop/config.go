package loop

import (
	"errors"
	"runtime"
	"time"

	"github.com/workkit/realtime/httpx"
)

// Config sizes and times the reactor. Map flags onto it in main and nowhere
// else; DefaultConfig gives SPEC section 2's defaults.
type Config struct {
	MaxConns          int           // open connections; past it a request gets 503 and the connection closes
	MaxHeaderBytes    int           // request head limit (431 past it)
	MaxBodyBytes      int           // request body limit (413 past it)
	MaxPendingBytes   int           // unflushed bytes a connection may hold before it is closed as a slow consumer
	WriteStallTimeout time.Duration // a connection whose socket accepts nothing this long is closed
	HeaderTimeout     time.Duration // a request head must complete within this
	IdleTimeout       time.Duration // a keep-alive connection between requests is closed after this
	Heartbeat         time.Duration // a stream with no write for this long gets HeartbeatFrame
	HeartbeatFrame    []byte        // the bytes of a heartbeat (the broker's SSE comment frame); the loop does not know SSE
	StreamSendBuffer  int           // SO_SNDBUF of an event stream, so a stalled peer cannot pin megabytes of kernel memory; 0 keeps the kernel's
	Flushers          int           // goroutines that write queued bytes to sockets
	Tick              time.Duration // timer granularity
}

// DefaultConfig returns the defaults of SPEC section 2, with MaxConns taken
// from RLIMIT_NOFILE. HeartbeatFrame is left for the application to set.
func DefaultConfig() Config {
	return Config{
		MaxConns:          defaultMaxConns(),
		MaxHeaderBytes:    httpx.DefaultMaxHeaderBytes,
		MaxBodyBytes:      httpx.DefaultMaxBodyBytes,
		MaxPendingBytes:   1 << 20,
		WriteStallTimeout: 30 * time.Second,
		HeaderTimeout:     10 * time.Second,
		IdleTimeout:       60 * time.Second,
		Heartbeat:         30 * time.Second,
		StreamSendBuffer:  64 << 10,
		Flushers:          runtime.GOMAXPROCS(0),
		Tick:              100 * time.Millisecond,
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.MaxConns <= 0:
		return errors.New("loop: max conns must be positive")
	case c.MaxHeaderBytes < 256:
		return errors.New("loop: max header bytes must be at least 256")
	case c.MaxBodyBytes <= 0:
		return errors.New("loop: max body bytes must be positive")
	case c.MaxPendingBytes <= 0:
		return errors.New("loop: max pending bytes must be positive")
	case c.WriteStallTimeout <= 0, c.HeaderTimeout <= 0, c.IdleTimeout <= 0, c.Heartbeat <= 0:
		return errors.New("loop: timeouts and heartbeat must be positive")
	case len(c.HeartbeatFrame) == 0:
		return errors.New("loop: heartbeat frame must be set")
	case c.StreamSendBuffer < 0:
		return errors.New("loop: stream send buffer must not be negative")
	case c.Flushers <= 0:
		return errors.New("loop: flushers must be positive")
	case c.Tick <= 0 || c.Tick > time.Second:
		return errors.New("loop: tick must be in (0, 1s]")
	}
	return nil
}
