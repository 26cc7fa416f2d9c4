package loop

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/workkit/realtime/ring"
	"github.com/workkit/realtime/wheel"
)

// timerKind says what a connection's deadline timer means now.
type timerKind uint8

const (
	timerHeader    timerKind = iota // a request head must complete (slowloris)
	timerIdle                       // keep-alive connection between requests
	timerHeartbeat                  // stream: a comment after Heartbeat without a write
	timerStall                      // socket full: close after WriteStallTimeout without progress
)

// timers runs every connection deadline on one hashed wheel. The wheel is
// guarded by mu; one goroutine (run) advances it every tick and handles what
// fired outside the lock.
//
// Heartbeats are re-armed lazily: a write only stores the time in
// Conn.lastWrite (one atomic store on the hot path), and when the timer
// fires it either sends a heartbeat or moves itself to lastWrite+Heartbeat.
// The effect is that of re-arming on every write, at the cost of at most
// one extra wake-up per connection per heartbeat interval.
type timers struct {
	cfg       *Config     // immutable
	start     time.Time   // immutable: zero of the clock
	heartbeat *ring.Frame // immutable: Config.HeartbeatFrame
	clock     atomic.Int64

	mu    sync.Mutex
	wheel *wheel.Wheel[*Conn] // guarded by mu
	fired []*wheel.Timer[*Conn]

	stopc    chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

func newTimers(cfg *Config) *timers {
	slots := int(45*time.Second/cfg.Tick) + 1 // one revolution covers the usual deadlines
	return &timers{
		cfg:       cfg,
		start:     time.Now(),
		heartbeat: ring.Static(cfg.HeartbeatFrame),
		wheel:     wheel.New[*Conn](cfg.Tick, min(slots, 1<<16), 0),
		stopc:     make(chan struct{}),
		done:      make(chan struct{}),
	}
}

// now is the timer clock in ns, updated every tick: coarse but cheap.
func (t *timers) now() int64 { return t.clock.Load() }

// run advances the wheel every tick until stop.
func (t *timers) run() {
	defer close(t.done)
	tk := time.NewTicker(t.cfg.Tick)
	defer tk.Stop()
	for {
		select {
		case <-t.stopc:
			return
		case <-tk.C:
			t.advance(int64(time.Since(t.start)))
		}
	}
}

// stop ends run and waits for it; later calls do nothing.
func (t *timers) stop() {
	t.stopOnce.Do(func() { close(t.stopc) })
	<-t.done
}

// advance fires what is due at now. Handlers run outside mu; each checks
// that its timer was not re-armed in between.
func (t *timers) advance(now int64) {
	t.clock.Store(now)
	t.mu.Lock()
	t.wheel.Advance(now, func(tm *wheel.Timer[*Conn]) { t.fired = append(t.fired, tm) })
	fired := t.fired
	t.mu.Unlock()
	for i, tm := range fired {
		t.expire(tm, now)
		fired[i] = nil
	}
	t.mu.Lock()
	t.fired = fired[:0]
	t.mu.Unlock()
}

// expire handles one fired timer of c at now.
func (t *timers) expire(tm *wheel.Timer[*Conn], now int64) {
	c := tm.Value
	if tm == &c.expiry {
		c.Close(CloseExpired)
		return
	}
	t.mu.Lock()
	kind := c.timerOf
	if c.timer.Armed() { // re-armed since it fired
		t.mu.Unlock()
		return
	}
	stalled := c.isStalled()
	switch {
	case stalled && now-c.lastWrite.Load() >= int64(t.cfg.WriteStallTimeout):
		t.mu.Unlock()
		c.Close(CloseWriteStall)
		return
	case stalled:
		t.armLocked(c, timerStall, c.lastWrite.Load()+int64(t.cfg.WriteStallTimeout))
		t.mu.Unlock()
		return
	case kind == timerHeader:
		t.mu.Unlock()
		c.Close(CloseHeaderTimeout)
		return
	case kind == timerIdle:
		t.mu.Unlock()
		c.Close(CloseIdleTimeout)
		return
	}
	if c.state() != stateStream { // a request connection whose stall cleared
		t.armLocked(c, timerIdle, now+int64(t.cfg.IdleTimeout))
		t.mu.Unlock()
		return
	}
	// A stream (heartbeat, or a stall that cleared): heartbeat if quiet.
	hb := int64(t.cfg.Heartbeat)
	due := c.lastWrite.Load() + hb
	send := due <= now
	if send {
		due = now + hb
	}
	t.armLocked(c, timerHeartbeat, due)
	t.mu.Unlock()
	if send && c.Send(t.heartbeat) {
		c.srv.stats.Heartbeats.Add(1)
	}
}

// armLocked points c's deadline timer at kind and deadline: the one place
// that arms it. A closed connection's timers were stopped by connClosed
// (which runs after the state became closed, under mu): arming one again
// would keep it in the wheel, and the Conn reachable, forever. t.mu is
// held.
func (t *timers) armLocked(c *Conn, kind timerKind, deadline int64) {
	if c.state() == stateClosed {
		return
	}
	c.timerOf = kind
	t.wheel.Arm(&c.timer, deadline)
}

// connOpened starts the header timeout of a new connection.
func (t *timers) connOpened(c *Conn) {
	c.timer.Value, c.expiry.Value = c, c
	now := t.now()
	c.lastWrite.Store(now)
	t.mu.Lock()
	t.armLocked(c, timerHeader, now+int64(t.cfg.HeaderTimeout))
	t.mu.Unlock()
}

// requestsServed re-arms a request connection after its input was
// processed: idle timeout when no partial request is buffered, else the
// header timeout of that request (kept, not extended, if already running,
// so a peer trickling bytes cannot hold the connection).
func (t *timers) requestsServed(c *Conn, partial bool) {
	now := t.now()
	t.mu.Lock()
	switch {
	case c.timerOf == timerStall && c.timer.Armed():
	case partial && c.timerOf != timerHeader:
		t.armLocked(c, timerHeader, now+int64(t.cfg.HeaderTimeout))
	case !partial:
		t.armLocked(c, timerIdle, now+int64(t.cfg.IdleTimeout))
	}
	t.mu.Unlock()
}

// deferred stops the request timers while a handler's reply is pending
// (the handler bounds its own wait). A write-stall deadline stays: a peer
// that reads nothing is cut off whatever the handler waits for.
func (t *timers) deferred(c *Conn) {
	t.mu.Lock()
	if c.timerOf != timerStall {
		t.wheel.Stop(&c.timer)
	}
	t.mu.Unlock()
}

// streamStarted switches c to heartbeats.
func (t *timers) streamStarted(c *Conn) {
	t.mu.Lock()
	t.armLocked(c, timerHeartbeat, t.now()+int64(t.cfg.Heartbeat))
	t.mu.Unlock()
}

// expireAt closes the stream c at deadline (a credential's expiry), given
// as wall-clock time.
func (t *timers) expireAt(c *Conn, at time.Time) {
	d := int64(at.Sub(t.start))
	t.mu.Lock()
	if c.state() != stateClosed { // see armLocked
		t.wheel.Arm(&c.expiry, d)
	}
	t.mu.Unlock()
}

// stalled starts the write-stall timeout of c, counted from its last
// progress. c.wmu is held.
func (t *timers) stalled(c *Conn) {
	due := c.lastWrite.Load() + int64(t.cfg.WriteStallTimeout)
	t.mu.Lock()
	if c.timerOf != timerStall || !c.timer.Armed() {
		t.armLocked(c, timerStall, due)
	}
	t.mu.Unlock()
}

// connClosed stops c's timers.
func (t *timers) connClosed(c *Conn) {
	t.mu.Lock()
	t.wheel.Stop(&c.timer)
	t.wheel.Stop(&c.expiry)
	t.mu.Unlock()
}
