// Package load is the machinery of the realtime load tests and of the
// capacity planner: cheap raw-TCP SSE subscribers and publishers, a frame
// scanner, latency histograms, per-subscriber gap/duplicate checks, worker
// processes that hold the subscriber connections, and the scenarios built
// from them (idle, fanout, flood, churn, slow, badinput, soak, chanflood, and
// cluster: several nodes sharing a Redis, with faults; multiplex: streams of
// several channels checked per channel; revoke: one principal's streams
// ended by POST /disconnect).
//
// One run talks to a Target: either realtime or the nginx+nchan peer
// (loadtest/peers). The two differ on the wire (see Dialect); everything
// measured is measured the same way for both.
//
// Subscribers live in worker processes (the calling binary re-executed with
// REALTIME_LOADTEST_WORKER=1; see MaybeWorker) so that no process holds more
// than a few thousand sockets. A worker speaks JSON lines on stdin/stdout with
// its parent and exits on stdin EOF or at its deadline, so it never outlives
// the run.
//
// Latency is publish-to-receive: the publisher writes its clock (Mono, the
// system-wide CLOCK_MONOTONIC, comparable between processes on one host)
// into the event data, and the subscriber subtracts it from its own reading.
package load
