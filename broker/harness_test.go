package broker_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/workkit/realtime/broker"
)

// testSecret signs the tokens of the black-box tests.
const testSecret = "test-secret-0123456789abcdef"

// server is a real broker serving on a loopback port.
type server struct {
	t    testing.TB
	b    *broker.Broker
	addr string
	cfg  broker.Config
}

// startServer starts a broker on 127.0.0.1:0 with the test secret and the
// defaults of SPEC 2, adjusted by mutate; it is shut down at test end.
func startServer(t testing.TB, mutate func(*broker.Config)) *server {
	t.Helper()
	cfg := broker.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.AdminAddr = ""
	cfg.JWTSecret = testSecret
	if mutate != nil {
		mutate(&cfg)
	}
	b, err := broker.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Serve(ln) }()
	s := &server{t: t, b: b, addr: ln.Addr().String(), cfg: cfg}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s
}

// token signs claims for sub with the test secret.
func token(t testing.TB, channels, publish []string, ttl time.Duration) string {
	t.Helper()
	tok, err := broker.NewJWTSecret([]byte(testSecret), "").Sign(broker.NewClaims("tester", channels, publish, ttl))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func subToken(t testing.TB) string { return token(t, []string{"*"}, nil, time.Hour) }
func pubToken(t testing.TB) string { return token(t, nil, []string{"*"}, time.Hour) }

// response is a parsed HTTP response.
type response struct {
	status int
	header http.Header
	body   string
	close  bool // the server said Connection: close
}

// do sends one raw request on a fresh connection and reads the response.
func (s *server) do(raw string) response {
	s.t.Helper()
	c := s.dial()
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		s.t.Fatal(err)
	}
	return readResponse(s.t, bufio.NewReader(c))
}

func (s *server) dial() net.Conn {
	s.t.Helper()
	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		s.t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// readResponse reads one response with a Content-Length body.
func readResponse(t testing.TB, br *bufio.Reader) response {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(body), close: resp.Close}
}

// get builds a GET request with optional extra header lines.
func get(path string, headers ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: test\r\n" + strings.Join(headers, "") + "\r\n"
}

// post builds a POST request with a body.
func post(path, body string, headers ...string) string {
	return "POST " + path + " HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n" + strings.Join(headers, "") + "\r\n" + body
}

func bearerHeader(tok string) string { return "Authorization: Bearer " + tok + "\r\n" }

// published is the answer of a publish.
type published struct {
	Delivered int    `json:"delivered"`
	ID        uint64 `json:"id"`
}

// publish publishes one event and fails the test unless it is accepted.
func (s *server) publish(channel, event, data string) published {
	s.t.Helper()
	body := fmt.Sprintf(`{"event":%q,"data":%s}`, event, data)
	r := s.do(post("/publish/"+channel, body, bearerHeader(pubToken(s.t))))
	if r.status != 200 {
		s.t.Fatalf("publish %s: %d %s", channel, r.status, r.body)
	}
	var p published
	mustJSON(s.t, r.body, &p)
	return p
}

// stream is an open SSE subscription.
type stream struct {
	t      testing.TB
	c      net.Conn
	br     *bufio.Reader
	header http.Header
	retry  int64  // the retry hint of the opening frame, ms
	fresh  bool   // the opening frame carried an id: opened without a last id
	openID uint64 // that id
}

// subscribe opens /sse/channel with the given extra header lines (a
// subscriber token is added unless one is given) and reads the 200 head
// and the retry frame.
func (s *server) subscribe(channel string, headers ...string) *stream {
	s.t.Helper()
	st, r := s.trySubscribe(channel, headers...)
	if st == nil {
		s.t.Fatalf("subscribe %s: %d %s", channel, r.status, r.body)
	}
	return st
}

// trySubscribe is subscribe that returns the error response instead of
// failing.
func (s *server) trySubscribe(channel string, headers ...string) (*stream, response) {
	s.t.Helper()
	if !strings.Contains(strings.Join(headers, ""), "Authorization:") {
		headers = append(headers, bearerHeader(subToken(s.t)))
	}
	c := s.dial()
	if _, err := io.WriteString(c, get("/sse/"+channel, headers...)); err != nil {
		s.t.Fatal(err)
	}
	br := bufio.NewReader(c)
	tp, err := http.ReadResponse(br, nil)
	if err != nil {
		s.t.Fatalf("subscribe %s: %v", channel, err)
	}
	if tp.StatusCode != 200 {
		body, _ := io.ReadAll(tp.Body)
		c.Close()
		return nil, response{status: tp.StatusCode, header: tp.Header, body: string(body)}
	}
	st := &stream{t: s.t, c: c, br: br, header: tp.Header}
	s.t.Cleanup(func() { c.Close() })
	st.checkOpening(s.cfg.Retry)
	return st, response{status: 200, header: tp.Header}
}

// openingRE is the first frame of a stream (SPEC 3.1): the retry hint, and
// the channel's id on a stream opened without a last id.
var openingRE = regexp.MustCompile(`^retry: (\d+)\n(?:id: (\d+)\n)?\n$`)

// checkOpening reads the first frame and checks it: a retry hint within
// ±25 % of retry; the id it carries (if any) is kept in st.openID.
func (st *stream) checkOpening(retry time.Duration) {
	st.t.Helper()
	f := st.next()
	m := openingRE.FindStringSubmatch(f)
	if m == nil {
		st.t.Fatalf("first frame %q, want the retry hint (and id)", f)
	}
	ms, _ := strconv.ParseInt(m[1], 10, 64)
	if lo, hi := retry.Milliseconds()*3/4, retry.Milliseconds()*5/4; ms < lo || ms > hi {
		st.t.Fatalf("retry hint %d ms, want %d..%d", ms, lo, hi)
	}
	st.retry = ms
	if m[2] != "" {
		st.openID, _ = strconv.ParseUint(m[2], 10, 64)
		st.fresh = true
	}
}

// next returns the next frame, raw, up to and including its blank line.
func (st *stream) next() string {
	st.t.Helper()
	var b strings.Builder
	for {
		line, err := st.br.ReadString('\n')
		if err != nil {
			st.t.Fatalf("read frame: %v (got %q)", err, b.String())
		}
		b.WriteString(line)
		if line == "\n" {
			return b.String()
		}
	}
}

// nextEvent returns the next frame that is not a comment.
func (st *stream) nextEvent() string {
	st.t.Helper()
	for {
		if f := st.next(); !strings.HasPrefix(f, ":") {
			return f
		}
	}
}

// expectClosed reads until EOF, failing if an event arrives first.
func (st *stream) expectClosed() {
	st.t.Helper()
	buf := make([]byte, 4096)
	for {
		n, err := st.br.Read(buf)
		if n > 0 && bytes.Contains(buf[:n], []byte("data:")) {
			st.t.Fatalf("event after expected close: %q", buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// frame is the byte-exact event frame of SPEC 3.1.
func frame(id uint64, event, data string) string {
	return fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", id, event, data)
}

func mustJSON(t testing.TB, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}

// metric returns the value of one realtime_* sample of the server's
// /metrics (as printed, labels included: `name{label="v"}`), 0 if absent.
func (s *server) metric(sample string) float64 {
	s.t.Helper()
	rec := httptest.NewRecorder()
	s.b.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if name, val, ok := strings.Cut(line, " "); ok && name == sample {
			v, err := strconv.ParseFloat(val, 64)
			if err != nil {
				s.t.Fatalf("bad sample %q", line)
			}
			return v
		}
	}
	return 0
}
