package load

// SeqCheck follows the sequence numbers (1..total, carried in the event
// data) one subscriber received, across reconnects, and classifies every
// anomaly. A realtime.reset frame announces a gap: the sequence numbers
// skipped between the last one seen before it and the first one seen after
// it are counted as Announced, not Missing (SPEC 5). Not safe for
// concurrent use; one per subscriber.
type SeqCheck struct {
	seen       []uint64 // bitmap of received sequence numbers
	covered    []uint64 // bitmap of sequence numbers lost under a reset (or never published)
	absent     []uint64 // bitmap of sequence numbers never published (Unpublished); nil if none
	high       int      // highest sequence number received
	afterReset bool     // a reset frame came and no event since
	c          Checks
}

// Checks counts what a set of subscribers received; the zero value is empty.
type Checks struct {
	Subscribers int `json:"subscribers"`
	Received    int `json:"received"`     // event frames with a sequence number, duplicates included
	Missing     int `json:"missing"`      // sequence numbers never received and not announced
	Duplicated  int `json:"duplicated"`   // frames whose sequence number was already received
	OutOfOrder  int `json:"out_of_order"` // frames below the highest number seen, first time received
	Resets      int `json:"resets"`       // realtime.reset frames
	Announced   int `json:"announced"`    // sequence numbers skipped under a reset
	Incomplete  int `json:"incomplete"`   // subscribers missing at least one event
}

// NewSeqCheck returns a checker for sequence numbers 1..total.
func NewSeqCheck(total int) *SeqCheck {
	w := (total + 64) / 64
	return &SeqCheck{seen: make([]uint64, w), covered: make([]uint64, w)}
}

func bit(b []uint64, i int) bool { return b[i/64]&(1<<(uint(i)%64)) != 0 }
func setBit(b []uint64, i int)   { b[i/64] |= 1 << (uint(i) % 64) }

// Event records one event frame carrying sequence number seq. Numbers
// outside 1..total are counted as received and otherwise ignored.
func (s *SeqCheck) Event(seq int) {
	s.c.Received++
	if seq < 1 || seq/64 >= len(s.seen) {
		return
	}
	switch {
	case bit(s.seen, seq):
		s.c.Duplicated++
		return
	case seq < s.high:
		s.c.OutOfOrder++
	case seq > s.high+1 && s.afterReset:
		for i := s.high + 1; i < seq; i++ {
			if !bit(s.seen, i) && !bit(s.covered, i) {
				setBit(s.covered, i)
				s.c.Announced++
			}
		}
	}
	s.afterReset = false
	setBit(s.seen, seq)
	s.high = max(s.high, seq)
}

// Reset records a realtime.reset frame: the gap up to the next event is
// announced.
func (s *SeqCheck) Reset() {
	s.c.Resets++
	s.afterReset = true
}

// Unpublished records that seq was never published (its publish was
// refused): unless it was received, it counts as neither missing nor
// announced, even when it lay in a gap a reset announced. Calling it again
// for the same seq changes nothing.
func (s *SeqCheck) Unpublished(seq int) {
	if seq < 1 || seq/64 >= len(s.seen) || bit(s.seen, seq) {
		return
	}
	if s.absent == nil {
		s.absent = make([]uint64, len(s.seen))
	}
	if bit(s.absent, seq) {
		return
	}
	setBit(s.absent, seq)
	if bit(s.covered, seq) {
		s.c.Announced--
	}
	setBit(s.covered, seq)
}

// High returns the highest sequence number received so far.
func (s *SeqCheck) High() int { return s.high }

// Result closes the books for sequence numbers 1..total and returns the
// counts (Subscribers = 1). A reset that came after the last event covers
// everything after it.
func (s *SeqCheck) Result(total int) Checks {
	c := s.c
	c.Subscribers = 1
	for i := 1; i <= total && i/64 < len(s.seen); i++ {
		if bit(s.seen, i) || bit(s.covered, i) {
			continue
		}
		if s.afterReset && i > s.high {
			c.Announced++
			continue
		}
		c.Missing++
	}
	if c.Missing > 0 {
		c.Incomplete = 1
	}
	return c
}

// Add accumulates o into c.
func (c *Checks) Add(o Checks) {
	c.Subscribers += o.Subscribers
	c.Received += o.Received
	c.Missing += o.Missing
	c.Duplicated += o.Duplicated
	c.OutOfOrder += o.OutOfOrder
	c.Resets += o.Resets
	c.Announced += o.Announced
	c.Incomplete += o.Incomplete
}

// Clean reports whether nothing was missing, duplicated or out of order.
func (c Checks) Clean() bool { return c.Missing == 0 && c.Duplicated == 0 && c.OutOfOrder == 0 }
