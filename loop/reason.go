package loop

import "sync/atomic"

// CloseReason says why a connection closed. Every close is counted by
// reason in Stats.
type CloseReason uint32

const (
	ClosePeer          CloseReason = iota // the peer closed or reset the connection
	CloseWriteError                       // a write failed (EPIPE, ECONNRESET, ...)
	CloseSlowConsumer                     // unflushed bytes exceeded MaxPendingBytes
	CloseWriteStall                       // the socket accepted nothing for WriteStallTimeout
	CloseHeaderTimeout                    // a request head did not complete within HeaderTimeout
	CloseIdleTimeout                      // a keep-alive connection idled past IdleTimeout
	CloseBadRequest                       // a malformed or oversized request (answered 4xx first)
	CloseResponse                         // the response said Connection: close
	CloseExpired                          // the stream's credential expired
	CloseOverload                         // accepted past MaxConns (answered 503 first)
	CloseShutdown                         // the server is shutting down
	CloseRevoked                          // ended by the publisher side: a disconnect or a channel deleted (SPEC 3.9)
	numCloseReasons
)

var reasonNames = [numCloseReasons]string{
	"peer", "write_error", "slow_consumer", "write_stall", "header_timeout",
	"idle_timeout", "bad_request", "response", "expired", "overload", "shutdown",
	"revoked",
}

// String returns the reason's metric label.
func (r CloseReason) String() string {
	if r < numCloseReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Stats are the reactor's counters. All fields are safe for concurrent use.
type Stats struct {
	Accepted     atomic.Uint64 // connections accepted
	Open         atomic.Int64  // connections open now
	Streams      atomic.Int64  // event streams open now
	Writes       atomic.Uint64 // sendmsg calls that wrote bytes
	FramesOut    atomic.Uint64 // frames fully written (FramesOut/Writes = frames per write)
	BytesOut     atomic.Uint64 // bytes written
	Stalls       atomic.Uint64 // writes that hit a full socket buffer
	Heartbeats   atomic.Uint64 // heartbeat comments queued
	closedByKind [numCloseReasons]atomic.Uint64
}

// Closed returns the number of connections closed for reason r.
func (s *Stats) Closed(r CloseReason) uint64 {
	if r >= numCloseReasons {
		return 0
	}
	return s.closedByKind[r].Load()
}

// CloseReasons lists every reason, for exporting the counters.
func CloseReasons() []CloseReason {
	rs := make([]CloseReason, numCloseReasons)
	for i := range rs {
		rs[i] = CloseReason(i)
	}
	return rs
}
