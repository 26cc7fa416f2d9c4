package load

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DialOptions shapes a loader connection.
type DialOptions struct {
	Src     string        // local source address (127.0.0.x); empty: the kernel's choice
	RcvBuf  int           // SO_RCVBUF set before connect (a slow reader); 0: default
	Timeout time.Duration // connect timeout; 0: 10 s
}

// Dial connects to addr. With a source address it sets
// IP_BIND_ADDRESS_NO_PORT so the ephemeral port is chosen at connect time
// and each source address offers its own ~28k ports per destination.
func Dial(addr string, o DialOptions) (net.Conn, error) {
	d := net.Dialer{Timeout: o.Timeout}
	if d.Timeout == 0 {
		d.Timeout = 10 * time.Second
	}
	if o.Src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(o.Src)}
	}
	d.Control = func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if o.Src != "" {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
			}
			if serr == nil && o.RcvBuf > 0 {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, o.RcvBuf)
			}
		})
		return errors.Join(err, serr)
	}
	return d.Dial("tcp", addr)
}

// StatusError is a non-200 answer to a subscribe, or an unexpected answer
// to a publish.
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string { return fmt.Sprintf("load: HTTP %d: %.200s", e.Status, e.Body) }

// Stream is one open subscription: the connection, its reader and the
// frame scanner over it. Owned by one goroutine.
type Stream struct {
	Conn net.Conn
	R    *bufio.Reader
	Sc   *Scanner
}

// OpenStream subscribes to channel on t, resuming after lastID when it is
// not empty, and returns once the response head was read (a 200).
func OpenStream(t *Target, channel, lastID string, o DialOptions, bufSize int) (*Stream, error) {
	return openStreamWith(t, t.SubscribeRequest(nil, channel, lastID), o, bufSize)
}

// openStreamWith dials t, sends req (a stream's GET) and reads the head of
// its 200 answer; any other answer is a *StatusError.
func openStreamWith(t *Target, req []byte, o DialOptions, bufSize int) (*Stream, error) {
	c, err := Dial(t.Addr, o)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := c.Write(req); err != nil {
		c.Close()
		return nil, err
	}
	r := bufio.NewReaderSize(c, bufSize)
	status, body, err := ReadResponse(r, true)
	if err == nil && status != 200 {
		err = &StatusError{Status: status, Body: string(body)}
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return &Stream{Conn: c, R: r, Sc: NewScanner(r)}, nil
}

// ReadResponse reads one HTTP/1.1 response. With headOnly and a 200 it
// returns after the head (an event stream follows). Otherwise it reads the
// body (Content-Length or chunked); the body slice is freshly allocated.
func ReadResponse(r *bufio.Reader, headOnly bool) (status int, body []byte, err error) {
	return ReadResponseFunc(r, headOnly, nil)
}

// ReadResponseFunc is ReadResponse that also calls hdr, when not nil, with
// each header's name and trimmed value (valid during the call only).
func ReadResponseFunc(r *bufio.Reader, headOnly bool, hdr func(name, value []byte)) (status int, body []byte, err error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, nil, fmt.Errorf("load: bad status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, fmt.Errorf("load: bad status line %q", line)
	}
	length, chunked := -1, false
	for {
		line, err = r.ReadSlice('\n')
		if err != nil {
			return status, nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		k, v, _ := bytes.Cut(line, []byte(":"))
		v = bytes.TrimSpace(v)
		if hdr != nil {
			hdr(k, v)
		}
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			length, _ = strconv.Atoi(string(v))
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		}
	}
	if headOnly && status == 200 {
		return status, nil, nil
	}
	switch {
	case chunked:
		body, err = readChunked(r)
	case length >= 0:
		body = make([]byte, length)
		_, err = io.ReadFull(r, body)
	default: // until close (error answers of some servers)
		body, err = io.ReadAll(io.LimitReader(r, 1<<16))
	}
	return status, body, err
}

func readChunked(r *bufio.Reader) ([]byte, error) {
	var body []byte
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return body, err
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(line, []byte(";"), 2)[0])), 16, 32)
		if err != nil {
			return body, fmt.Errorf("load: bad chunk size %q", line)
		}
		if n == 0 {
			_, err = r.ReadSlice('\n')
			return body, err
		}
		chunk := make([]byte, n+2)
		if _, err := io.ReadFull(r, chunk); err != nil {
			return body, err
		}
		body = append(body, chunk[:n]...)
	}
}
