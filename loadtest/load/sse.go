package load

import (
	"bufio"
	"bytes"
	"errors"
)

// Frame is one dispatched event-stream frame. Its slices belong to the
// Scanner and stay valid until the next call to Next.
type Frame struct {
	ID      []byte // value of the last id: field; nil when the frame had none
	Event   []byte // value of the event: field; nil when absent ("message")
	Data    []byte // data: lines joined with '\n'
	HasID   bool   // an id: field was present (possibly empty)
	HasData bool   // at least one data: line was present
	Retry   bool   // a retry: field was present
	Comment bool   // the frame had comment lines only (": hb", ": hi")
}

// ErrLineTooLong is returned by Scanner.Next for a line over MaxLine bytes.
var ErrLineTooLong = errors.New("load: sse line too long")

// MaxLine bounds one event-stream line; longer lines are a protocol error
// for our purposes (events of the load tests are small).
const MaxLine = 1 << 20

// Scanner splits an event stream into frames following the WHATWG rules
// that matter here: LF or CRLF line ends, "field: value" with one optional
// space, comment lines starting with ':', multi-line data. Not safe for
// concurrent use.
type Scanner struct {
	r     *bufio.Reader
	f     Frame
	line  []byte // carry for lines longer than the reader's buffer
	id    []byte
	event []byte
	data  []byte
}

// NewScanner reads frames from r.
func NewScanner(r *bufio.Reader) *Scanner { return &Scanner{r: r} }

// Next returns the next frame. A frame is dispatched at a blank line; a
// stream that ends mid-frame returns the read error (io.EOF) and drops it.
func (s *Scanner) Next() (*Frame, error) {
	s.reset()
	fields := 0
	for {
		line, err := s.readLine()
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			if fields == 0 && !s.f.Comment {
				continue // stray blank line
			}
			s.finish()
			return &s.f, nil
		}
		if line[0] == ':' {
			s.f.Comment = fields == 0
			continue
		}
		fields++
		s.field(line)
	}
}

func (s *Scanner) reset() {
	s.f = Frame{}
	s.id, s.event, s.data = s.id[:0], s.event[:0], s.data[:0]
}

// field applies one "name: value" line to the frame being built.
func (s *Scanner) field(line []byte) {
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "id":
		s.id = append(s.id[:0], value...)
		s.f.HasID = true
	case "event":
		s.event = append(s.event[:0], value...)
	case "data":
		if s.f.HasData {
			s.data = append(s.data, '\n')
		}
		s.data = append(s.data, value...)
		s.f.HasData = true
	case "retry":
		s.f.Retry = true
	}
}

func (s *Scanner) finish() {
	s.f.Comment = s.f.Comment && !s.f.HasID && !s.f.HasData && !s.f.Retry && len(s.event) == 0
	if s.f.HasID {
		s.f.ID = s.id
	}
	if len(s.event) > 0 {
		s.f.Event = s.event
	}
	s.f.Data = s.data
}

// readLine returns one line without its LF or CRLF. The slice is valid
// until the next read.
func (s *Scanner) readLine() ([]byte, error) {
	line, err := s.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		s.line = append(s.line[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(s.line) > MaxLine {
				return nil, ErrLineTooLong
			}
			line, err = s.r.ReadSlice('\n')
			s.line = append(s.line, line...)
		}
		line = s.line
	}
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}
