package load

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
)

// Multiplexed streams (SPEC 3.8): one stream, several channels. Each event
// comes as
//
//	id: <cursor>
//	event: <event>
//	data: {"channel":"<ch>","id":<id>,"data":<data>}
//
// where the cursor is the stream's position in every channel. MuxCheck
// checks one such stream per channel: the sequence numbers of the load
// test's data (1..expected, SeqCheck: no gap, no duplicate, in order), the
// server's ids (strictly increasing, consecutive from the opening cursor's
// position: the ids of one incarnation are), and the cursor of each frame
// (its slot of the event's channel must hold the event's id). The cursor is
// opaque to clients; this checker reads the form the server documents in
// channel/cursor.go ("1" + base64url of 12 bytes per channel, in the
// request's channel order: FNV-1a-32 of the name, then the position, big
// endian) and counts a cursor of another form as opaque, unchecked.
//
// The same checker reads a plain GET /sse/{ch} stream (single): one
// channel, ids on the id: line, the load test's data as the event's data.
// It also follows how a stream ends (SPEC 3.9): a realtime.closed frame per
// channel (the multiplexed form names it), then the end of the connection.

// MuxStats counts what a set of multiplexed (or, as their baseline, single)
// streams saw beyond the per-channel Checks. The zero value is empty.
type MuxStats struct {
	Streams      int `json:"streams"`
	Pairs        int `json:"pairs"`         // (stream, channel) pairs held
	IDRegress    int `json:"id_regress"`    // event ids not above the channel's previous id in the stream
	IDGaps       int `json:"id_gaps"`       // event ids above previous + 1 (a channel's ids are consecutive)
	CursorBad    int `json:"cursor_bad"`    // cursors whose slot of the event's channel is not the event's id (or a wrong name hash)
	CursorOpaque int `json:"cursor_opaque"` // cursors not in the documented form: not checked
	Foreign      int `json:"foreign"`       // events of a channel the stream does not hold
	Unparsed     int `json:"unparsed"`      // event frames whose data could not be read
	IDLineMin    int `json:"id_line_min"`   // bytes of the shortest "id: ...\n" line of an event (0: none)
	IDLineMax    int `json:"id_line_max"`   // and of the longest
	OpenLineMax  int `json:"open_line_max"` // bytes of the longest "id: ...\n" line of an opening frame
	Opened       int `json:"opened"`        // streams whose opening frame (retry and id) came
	Closed       int `json:"closed"`        // realtime.closed frames
	ClosedBad    int `json:"closed_bad"`    // of them: another reason than expected, or not naming a held channel, or a second one for a channel
	AfterClosed  int `json:"after_closed"`  // frames after a stream's last realtime.closed
	FullyClosed  int `json:"fully_closed"`  // streams that got a realtime.closed for each of their channels
	EOFClosed    int `json:"eof_closed"`    // of them: the connection then ended
	EOFOther     int `json:"eof_other"`     // streams that ended without a realtime.closed for each channel
	StillOpen    int `json:"still_open"`    // streams open at the report
	Heartbeats   int `json:"heartbeats"`
}

// MuxReport is what a worker's ModeMux streams saw: the counts, and, from
// CollectSpec.Since, when each stream got its first realtime.closed frame
// and when its connection ended (a stream counts once in each).
type MuxReport struct {
	MuxStats
	ClosedAt Hist `json:"closed_at"`
	EndedAt  Hist `json:"ended_at"`
}

// Merge adds o into r.
func (r *MuxReport) Merge(o *MuxReport) {
	r.MuxStats.Merge(&o.MuxStats)
	r.ClosedAt.Merge(&o.ClosedAt)
	r.EndedAt.Merge(&o.EndedAt)
}

// Merge adds o into s.
func (s *MuxStats) Merge(o *MuxStats) {
	s.Streams += o.Streams
	s.Pairs += o.Pairs
	s.IDRegress += o.IDRegress
	s.IDGaps += o.IDGaps
	s.CursorBad += o.CursorBad
	s.CursorOpaque += o.CursorOpaque
	s.Foreign += o.Foreign
	s.Unparsed += o.Unparsed
	if o.IDLineMin > 0 && (s.IDLineMin == 0 || o.IDLineMin < s.IDLineMin) {
		s.IDLineMin = o.IDLineMin
	}
	s.IDLineMax = max(s.IDLineMax, o.IDLineMax)
	s.OpenLineMax = max(s.OpenLineMax, o.OpenLineMax)
	s.Opened += o.Opened
	s.Closed += o.Closed
	s.ClosedBad += o.ClosedBad
	s.AfterClosed += o.AfterClosed
	s.FullyClosed += o.FullyClosed
	s.EOFClosed += o.EOFClosed
	s.EOFOther += o.EOFOther
	s.StillOpen += o.StillOpen
	s.Heartbeats += o.Heartbeats
}

// Clean reports whether the per-stream checks beyond Checks found nothing.
func (s *MuxStats) Clean() bool {
	return s.IDRegress == 0 && s.IDGaps == 0 && s.CursorBad == 0 && s.Foreign == 0 && s.Unparsed == 0
}

// muxChan is one channel of a checked stream.
type muxChan struct {
	name    string
	hash    uint32
	expect  int // events that will be published on it
	check   *SeqCheck
	last    uint64 // the last event id received, or the opening position
	hasLast bool
	closed  int // realtime.closed frames naming it
}

// MuxCheck checks one stream. Not safe for concurrent use.
type MuxCheck struct {
	single bool
	reason string // the realtime.closed reason expected ("" accepts any)
	ch     []muxChan
	nClose int // channels closed
	ended  bool
	s      MuxStats
}

// NewMuxCheck returns the checker of a stream of channels names (in the
// order of the request: the cursor's slots follow it), expect[i] events
// being published on names[i]. single: a GET /sse/{ch} stream (one name).
// reason is the realtime.closed reason the stream may end with ("": any).
func NewMuxCheck(names []string, expect []int, single bool, reason string) *MuxCheck {
	m := &MuxCheck{single: single, reason: reason, ch: make([]muxChan, len(names))}
	for i, n := range names {
		m.ch[i] = muxChan{name: n, hash: CursorHash(n), expect: expect[i], check: NewSeqCheck(expect[i])}
	}
	m.s.Streams, m.s.Pairs = 1, len(names)
	return m
}

// Frame checks one frame. For an event of the load test it returns the
// publisher's timestamp (event true).
func (m *MuxCheck) Frame(f *Frame) (ts int64, event bool) {
	if m.nClose == len(m.ch) && len(m.ch) > 0 {
		m.s.AfterClosed++
	}
	switch {
	case f.Comment:
		m.s.Heartbeats++
		return 0, false
	case f.Retry && f.HasID && !f.HasData:
		m.open(f.ID)
		return 0, false
	case string(f.Event) == "realtime.reset":
		if c := m.chanOfControl(f.Data); c != nil {
			c.check.Reset()
			c.hasLast = false // the ids after a reset are the buffer's: checked from the next one
		}
		return 0, false
	case string(f.Event) == "realtime.closed":
		m.closed(f.Data)
		return 0, false
	case !f.HasData:
		return 0, false
	}
	return m.event(f)
}

// open reads the opening frame's id: each channel's starting position.
func (m *MuxCheck) open(id []byte) {
	m.s.Opened++
	m.s.OpenLineMax = max(m.s.OpenLineMax, len("id: \n")+len(id))
	if m.single {
		if v, ok := atou(id); ok && len(m.ch) == 1 {
			m.ch[0].last, m.ch[0].hasLast = v, true
		}
		return
	}
	if !cursorForm(id, len(m.ch)) {
		m.s.CursorOpaque++
		return
	}
	for i := range m.ch {
		h, pos, _ := CursorSlot(id, i)
		if h != m.ch[i].hash {
			m.s.CursorBad++
			continue
		}
		m.ch[i].last, m.ch[i].hasLast = pos, true
	}
}

// event checks an event frame.
func (m *MuxCheck) event(f *Frame) (int64, bool) {
	var c *muxChan
	var id uint64
	inner := f.Data
	slot := 0
	if m.single {
		v, ok := atou(f.ID)
		if !ok || !f.HasID {
			m.s.Unparsed++
			return 0, false
		}
		c, id = &m.ch[0], v
		m.idLine(f.ID)
	} else {
		name, v, d, ok := ParseMuxData(f.Data)
		if !ok {
			m.s.Unparsed++
			return 0, false
		}
		if slot = m.slotOf(name); slot < 0 {
			m.s.Foreign++
			return 0, false
		}
		c, id, inner = &m.ch[slot], v, d
		m.cursor(f, slot, id)
	}
	if c.hasLast {
		switch {
		case id <= c.last:
			m.s.IDRegress++
		case id != c.last+1:
			m.s.IDGaps++
		}
	}
	if !c.hasLast || id > c.last {
		c.last, c.hasLast = id, true
	}
	seq, ts, ok := ParseEventData(inner)
	if !ok {
		m.s.Unparsed++
		return 0, false
	}
	c.check.Event(seq)
	return ts, true
}

// cursor checks the id line of event id of channel slot.
func (m *MuxCheck) cursor(f *Frame, slot int, id uint64) {
	if !f.HasID {
		m.s.CursorBad++
		return
	}
	m.idLine(f.ID)
	if !cursorForm(f.ID, len(m.ch)) {
		m.s.CursorOpaque++
		return
	}
	if h, pos, _ := CursorSlot(f.ID, slot); h != m.ch[slot].hash || pos != id {
		m.s.CursorBad++
	}
}

// idLine books the length of an event's "id: <id>\n" line.
func (m *MuxCheck) idLine(id []byte) {
	n := len("id: \n") + len(id)
	if m.s.IDLineMin == 0 || n < m.s.IDLineMin {
		m.s.IDLineMin = n
	}
	m.s.IDLineMax = max(m.s.IDLineMax, n)
}

// closed books a realtime.closed frame.
func (m *MuxCheck) closed(data []byte) {
	m.s.Closed++
	var c *muxChan
	if m.single {
		c = &m.ch[0]
	} else {
		c = m.chanOfControl(data)
	}
	if c == nil {
		m.s.ClosedBad++
		return
	}
	if m.reason != "" {
		var v struct {
			Reason string `json:"reason"`
		}
		if json.Unmarshal(data, &v) != nil || v.Reason != m.reason {
			m.s.ClosedBad++
		}
	}
	c.closed++
	if c.closed > 1 {
		m.s.ClosedBad++
		return
	}
	m.nClose++
}

// End books the end of the connection (the server closed it, or it broke).
func (m *MuxCheck) End() {
	if m.ended {
		return
	}
	m.ended = true
	if m.FullyClosed() {
		m.s.EOFClosed++
	} else {
		m.s.EOFOther++
	}
}

// FullyClosed reports whether every channel got its realtime.closed.
func (m *MuxCheck) FullyClosed() bool { return len(m.ch) > 0 && m.nClose == len(m.ch) }

// Done reports whether every channel received its last sequence number.
func (m *MuxCheck) Done() bool {
	for i := range m.ch {
		if m.ch[i].check.High() < m.ch[i].expect {
			return false
		}
	}
	return true
}

// Result closes the books: the per-(stream, channel) Checks (Subscribers
// counts pairs) and the stream's MuxStats. unpublished lists, per channel,
// the sequence numbers whose publish was refused.
func (m *MuxCheck) Result(unpublished map[string][]int) (Checks, MuxStats) {
	var c Checks
	for i := range m.ch {
		ch := &m.ch[i]
		for _, seq := range unpublished[ch.name] {
			ch.check.Unpublished(seq)
		}
		c.Add(ch.check.Result(ch.expect))
	}
	s := m.s
	if m.FullyClosed() {
		s.FullyClosed = 1
	}
	if !m.ended {
		s.StillOpen = 1
	}
	return c, s
}

// slotOf returns the index of channel name in the stream, -1 if it has
// none of that name.
func (m *MuxCheck) slotOf(name []byte) int {
	for i := range m.ch {
		if m.ch[i].name == string(name) {
			return i
		}
	}
	return -1
}

// chanOfControl returns the channel a reset or closed frame names (the
// only one of a single stream); nil when it names none of the stream's.
func (m *MuxCheck) chanOfControl(data []byte) *muxChan {
	if m.single {
		return &m.ch[0]
	}
	var v struct {
		Channel string `json:"channel"`
	}
	if json.Unmarshal(data, &v) != nil {
		return nil
	}
	if i := m.slotOf([]byte(v.Channel)); i >= 0 {
		return &m.ch[i]
	}
	return nil
}

// ParseMuxData splits the data of a multiplexed event,
// {"channel":"<ch>","id":<id>,"data":<data>}, into its parts. The common
// form (members in that order, a name without escapes) is read in place;
// anything else goes through encoding/json (name then freshly allocated).
func ParseMuxData(data []byte) (channel []byte, id uint64, inner []byte, ok bool) {
	const pre, mid, post = `{"channel":"`, `,"id":`, `,"data":`
	if rest, found := bytes.CutPrefix(data, []byte(pre)); found {
		if q := bytes.IndexByte(rest, '"'); q >= 0 && bytes.IndexByte(rest[:q], '\\') < 0 {
			name, tail := rest[:q], rest[q+1:]
			if tail, found = bytes.CutPrefix(tail, []byte(mid)); found {
				n := 0
				for n < len(tail) && tail[n] >= '0' && tail[n] <= '9' {
					n++
				}
				v, vok := atou(tail[:n])
				if tail, found = bytes.CutPrefix(tail[n:], []byte(post)); found && vok &&
					len(tail) >= 2 && tail[len(tail)-1] == '}' {
					return name, v, tail[:len(tail)-1], true
				}
			}
		}
	}
	var v struct {
		Channel *string         `json:"channel"`
		ID      *uint64         `json:"id"`
		Data    json.RawMessage `json:"data"`
	}
	if json.Unmarshal(data, &v) != nil || v.Channel == nil || v.ID == nil || v.Data == nil {
		return nil, 0, nil, false
	}
	return []byte(*v.Channel), *v.ID, v.Data, true
}

// atou parses a decimal uint64 (1 to 19 digits) without allocating.
func atou(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// Cursor form (channel/cursor.go): "1" + base64url (no padding) of one
// 12-byte slot per channel, 16 characters each.
const (
	cursorSlotChars = 16
	cursorSlotBytes = 12
)

// cursorForm reports whether c has the documented form for n channels.
func cursorForm(c []byte, n int) bool {
	return len(c) == 1+cursorSlotChars*n && c[0] == '1'
}

// CursorSlot decodes slot i of a cursor in the documented form: the name
// hash and the position it holds.
func CursorSlot(c []byte, i int) (hash uint32, pos uint64, ok bool) {
	at := 1 + cursorSlotChars*i
	if i < 0 || len(c) < at+cursorSlotChars || c[0] != '1' {
		return 0, 0, false
	}
	var raw [cursorSlotBytes]byte
	if n, err := base64.RawURLEncoding.Decode(raw[:], c[at:at+cursorSlotChars]); err != nil || n != cursorSlotBytes {
		return 0, 0, false
	}
	return binary.BigEndian.Uint32(raw[:4]), binary.BigEndian.Uint64(raw[4:]), true
}

// CursorHash is the name hash of a cursor slot: FNV-1a, 32 bits.
func CursorHash(name string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 16777619
	}
	return h
}
