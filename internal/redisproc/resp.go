package redisproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds a Do call (dial, write and reply).
const DefaultTimeout = 10 * time.Second

// ErrNil is returned by Do when Redis replies with a nil (a missing key).
var ErrNil = errors.New("redisproc: nil reply")

// ReplyError is an error reply from Redis, such as "MOVED 3999 127.0.0.1:7001"
// or "ERR unknown command". Msg is the reply without its leading '-'.
type ReplyError struct{ Msg string }

func (e *ReplyError) Error() string { return "redisproc: " + e.Msg }

// respConn is one RESP2 connection. It is not safe for concurrent use.
type respConn struct {
	c net.Conn
	r *bufio.Reader
}

// dialRESP connects to addr within ctx.
func dialRESP(ctx context.Context, addr string) (*respConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("redisproc: %w", err)
	}
	return &respConn{c: c, r: bufio.NewReader(c)}, nil
}

func (c *respConn) Close() error { return c.c.Close() }

// do sends one command and reads its reply, both within ctx's deadline.
// The reply is a string, an int64, nil, a *ReplyError (inside arrays) or an
// []any of those; an error reply at the top is returned as the error.
func (c *respConn) do(ctx context.Context, args []string) (any, error) {
	if dl, ok := ctx.Deadline(); ok {
		c.c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := c.c.Write(appendCommand(nil, args)); err != nil {
		return nil, fmt.Errorf("redisproc: %w", err)
	}
	v, err := readReply(c.r)
	if err != nil {
		return nil, fmt.Errorf("redisproc: %s: %w", strings.Join(args, " "), err)
	}
	if e, ok := v.(*ReplyError); ok {
		return nil, e
	}
	return v, nil
}

// appendCommand appends args as a RESP array of bulk strings.
func appendCommand(b []byte, args []string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, "\r\n"...)
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}

// readReply reads one RESP2 reply.
func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("malformed reply line %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+':
		return body, nil
	case '-':
		return &ReplyError{Msg: body}, nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		return readBulk(r, body)
	case '*':
		return readArray(r, body)
	}
	return nil, fmt.Errorf("unknown reply type %q", kind)
}

func readBulk(r *bufio.Reader, size string) (any, error) {
	n, err := strconv.Atoi(size)
	if err != nil || n < -1 {
		return nil, fmt.Errorf("malformed bulk length %q", size)
	}
	if n == -1 {
		return nil, nil
	}
	b := make([]byte, n+2)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return string(b[:n]), nil
}

func readArray(r *bufio.Reader, size string) (any, error) {
	n, err := strconv.Atoi(size)
	if err != nil || n < -1 {
		return nil, fmt.Errorf("malformed array length %q", size)
	}
	if n == -1 {
		return nil, nil
	}
	a := make([]any, n)
	for i := range a {
		if a[i], err = readReply(r); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// replyText renders a reply as Do returns it: strings as they are, integers
// in decimal, array elements one a line (nested arrays flattened, nil
// elements as empty lines, error elements as their message).
func replyText(v any) string {
	var b strings.Builder
	writeText(&b, v)
	return b.String()
}

func writeText(b *strings.Builder, v any) {
	switch v := v.(type) {
	case string:
		b.WriteString(v)
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case *ReplyError:
		b.WriteString(v.Msg)
	case []any:
		for i, e := range v {
			if i > 0 {
				b.WriteByte('\n')
			}
			writeText(b, e)
		}
	}
}

// doAddr runs one command on a new connection to addr and returns its text.
func doAddr(ctx context.Context, addr string, args []string) (string, error) {
	return doAsking(ctx, addr, false, args)
}

// doAsking is doAddr, sending ASKING first if asking (after an ASK
// redirection).
func doAsking(ctx context.Context, addr string, asking bool, args []string) (string, error) {
	c, err := dialRESP(ctx, addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if asking {
		if _, err := c.do(ctx, []string{"ASKING"}); err != nil {
			return "", err
		}
	}
	v, err := c.do(ctx, args)
	if err != nil {
		return "", err
	}
	if v == nil {
		return "", ErrNil
	}
	return replyText(v), nil
}
