package load

// The parent and its workers exchange one JSON object per line: the parent
// writes a Cmd to the worker's stdin, the worker answers with exactly one
// Reply on its stdout. Stdin EOF ends a worker.

// Subscriber behaviours of OpenSpec.Mode.
const (
	ModeRead  = "read"  // read and check every frame
	ModeSlow  = "slow"  // read the head, then nothing (a stalled consumer)
	ModeChurn = "churn" // read, drop at random, reconnect with Last-Event-ID
	// ModeFollow reads like ModeRead; when the server ends the stream (its
	// node died) it reconnects to the next of OpenSpec.Addrs with
	// Last-Event-ID.
	ModeFollow = "follow"
	// ModeMux reads streams of several channels each (OpenSpec.Mux): a
	// multiplexed GET /sse?channel=a&channel=b, or with MuxSpec.Single one
	// GET /sse/{ch}, checked per channel (muxcheck.go).
	ModeMux = "mux"
)

// Cmd is a message from the parent to a worker.
type Cmd struct {
	Op      string       `json:"op"` // "open", "collect" or "close"
	Open    *OpenSpec    `json:"open,omitempty"`
	Collect *CollectSpec `json:"collect,omitempty"`
}

// OpenSpec asks a worker to open N subscriptions; subscriber i subscribes
// to Channels[i % len(Channels)] (with Addrs, see there).
type OpenSpec struct {
	Target      Target    `json:"target"`
	Channels    []string  `json:"channels"`
	N           int       `json:"n"`
	Src         string    `json:"src"`         // source address for every connection
	Mode        string    `json:"mode"`        // ModeRead, ModeSlow or ModeChurn
	RcvBuf      int       `json:"rcvbuf"`      // SO_RCVBUF; 0 keeps the default
	Events      int       `json:"events"`      // sequence numbers 1..Events will be published per channel
	Concurrency int       `json:"concurrency"` // connects in flight; 0: 64
	Churn       ChurnSpec `json:"churn"`
	// Addrs, when not empty, are the public addresses of several nodes
	// sharing their channels: subscriber i of this worker, the (First+i)-th
	// of the whole group, connects to Addrs[(First+i) % len(Addrs)]
	// instead of Target.Addr (round-robin by subscriber index), and to
	// Channels[((First+i) / len(Addrs)) % len(Channels)].
	Addrs []string `json:"addrs,omitempty"`
	First int      `json:"first,omitempty"`
	// Mux shapes ModeMux: the channels of each subscriber and what will be
	// published on them.
	Mux *MuxSpec `json:"mux,omitempty"`
}

// ChurnSpec shapes ModeChurn: after each event a subscriber drops with
// probability DropProb, stays away a uniformly random time up to MaxDownMs,
// then resumes with its last event id. With HoldMaxMs > 0 it also drops
// each stream at the first frame after holding it a uniformly random
// HoldMinMs..HoldMaxMs (the soak's timed churners), once it has an event
// id to resume from and until it received the last event.
type ChurnSpec struct {
	DropProb  float64 `json:"drop_prob"`
	MaxDownMs int     `json:"max_down_ms"`
	HoldMinMs int     `json:"hold_min_ms,omitempty"`
	HoldMaxMs int     `json:"hold_max_ms,omitempty"`
	Seed      uint64  `json:"seed"`
}

// CollectSpec asks a worker to wait until each reading subscriber has
// received sequence number Events (or nothing arrived for QuietMs, or
// TimeoutMs passed) and to report. Slow subscribers then drain their socket
// for up to DrainMs to learn whether the server closed them.
type CollectSpec struct {
	Events    int `json:"events"`
	QuietMs   int `json:"quiet_ms"`
	TimeoutMs int `json:"timeout_ms"`
	DrainMs   int `json:"drain_ms"`
	// Since, when not 0, is the Mono() of a fault (a node or Redis killed,
	// Redis restarted): the report's Move, Reset and AfterReset histograms
	// hold how long after it each subscriber saw those moments.
	Since int64 `json:"since,omitempty"`
	// Unpublished lists, per channel, the sequence numbers whose publish
	// was refused (a 503 while Redis was down): never published, so
	// neither missing nor expected.
	Unpublished map[string][]int `json:"unpublished,omitempty"`
	// UntilEnded (ModeMux) waits until every stream has ended (the server
	// closed it) instead of until each got its last event.
	UntilEnded bool `json:"until_ended,omitempty"`
}

// Reply is a worker's answer to one Cmd.
type Reply struct {
	Op     string        `json:"op"` // "opened", "report", "closed" or "error"
	OK     int           `json:"ok"` // subscriptions opened
	Failed int           `json:"failed"`
	Errors []string      `json:"errors,omitempty"` // the first few failures
	Report *WorkerReport `json:"report,omitempty"`
}

// WorkerReport is what a worker's subscribers saw. Reports of several
// workers add up with Merge.
type WorkerReport struct {
	Lat         Hist        `json:"lat"`         // publish-to-receive of live events
	Resume      Hist        `json:"resume"`      // churn: connect to response head of each resume
	Checks      Checks      `json:"checks"`      // reading subscribers only
	Heartbeats  int         `json:"heartbeats"`  // comment frames after the first
	Disconnects int         `json:"disconnects"` // reading streams the server ended (not churn drops)
	Drops       int         `json:"drops"`       // churn: connections closed on purpose
	Reconnects  int         `json:"reconnects"`  // churn: successful resumes
	Statuses    map[int]int `json:"statuses,omitempty"`
	SlowOpen    int         `json:"slow_open"`         // slow subscribers still connected after the drain
	SlowClosed  int         `json:"slow_closed"`       // slow subscribers the server disconnected
	Done        int         `json:"done"`              // reading subscribers that got the last event
	LastFrame   int64       `json:"last_frame"`        // Mono() of the latest frame any subscriber received
	Samples     []string    `json:"samples,omitempty"` // the first few reset frames and odd events, for the report
	Moved       int         `json:"moved,omitempty"`   // follow: subscribers that reconnected to another node
	Move        Hist        `json:"move"`              // follow: Since to the first frame after the first reconnect
	Reset       Hist        `json:"reset"`             // Since to the first realtime.reset frame
	AfterReset  Hist        `json:"after_reset"`       // Since to the first event after that reset
	Mux         *MuxReport  `json:"mux,omitempty"`     // ModeMux: the per-channel checks and the end of each stream
}

// maxSamples bounds WorkerReport.Samples.
const maxSamples = 8

// Merge adds o into r.
func (r *WorkerReport) Merge(o *WorkerReport) {
	r.Lat.Merge(&o.Lat)
	r.Resume.Merge(&o.Resume)
	r.Checks.Add(o.Checks)
	r.Heartbeats += o.Heartbeats
	r.Disconnects += o.Disconnects
	r.Drops += o.Drops
	r.Reconnects += o.Reconnects
	r.SlowOpen += o.SlowOpen
	r.SlowClosed += o.SlowClosed
	r.Done += o.Done
	r.Moved += o.Moved
	r.Move.Merge(&o.Move)
	r.Reset.Merge(&o.Reset)
	r.AfterReset.Merge(&o.AfterReset)
	r.LastFrame = max(r.LastFrame, o.LastFrame)
	if o.Mux != nil {
		if r.Mux == nil {
			r.Mux = &MuxReport{}
		}
		r.Mux.Merge(o.Mux)
	}
	for _, x := range o.Samples {
		if len(r.Samples) < maxSamples {
			r.Samples = append(r.Samples, x)
		}
	}
	for k, v := range o.Statuses {
		if r.Statuses == nil {
			r.Statuses = map[int]int{}
		}
		r.Statuses[k] += v
	}
}
