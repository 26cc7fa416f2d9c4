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
	"github.com/workkit/realtime/channel"
)

// testSecret signs the tokens of the black-box tests.
const testSecret = "test-secret-0123456789abcdef"

// server is what a test talks to: one broker, or several nodes sharing
// their channels through Redis behind a round-robin proxy, depending on the
// topology the suite runs on (topology.go). Tests reach it over HTTP at
// addr and read its metrics summed over its nodes.
type server struct {
	t     testing.TB
	nodes []*node
	addr  string // what clients dial: the only node, or the proxy in front of them
	cfg   broker.Config
}

// node is one broker of a server.
type node struct {
	b    *broker.Broker
	addr string
	done chan error // Serve's result
}

// startServer starts a server of the suite's topology on loopback ports
// with the test secret and the defaults of SPEC 2, adjusted by mutate; it
// is shut down at test end.
func startServer(t testing.TB, mutate func(*broker.Config)) *server {
	t.Helper()
	return startServerOn(t, suiteTopology(t), mutate)
}

// startServerOn is startServer on a given topology.
func startServerOn(t testing.TB, topo topology, mutate func(*broker.Config)) *server {
	t.Helper()
	cfg := broker.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.AdminAddr = ""
	cfg.JWTSecret = testSecret
	if mutate != nil {
		mutate(&cfg)
	}
	s := &server{t: t, cfg: cfg}
	for _, eng := range topo.engines(t, cfg) {
		s.nodes = append(s.nodes, startNode(t, cfg, eng))
	}
	s.addr = topo.front(t, s.nodeAddrs())
	s.waitReady()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		for _, n := range s.nodes {
			if err := <-n.done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	})
	return s
}

func startNode(t testing.TB, cfg broker.Config, eng channel.Engine) *node {
	t.Helper()
	b, err := broker.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), eng)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{b: b, addr: ln.Addr().String(), done: make(chan error, 1)}
	go func() { n.done <- b.Serve(ln) }()
	return n
}

// waitReady waits until every node answers /readyz (an engine on Redis
// connects in the background).
func (s *server) waitReady() {
	s.t.Helper()
	for _, n := range s.nodes {
		deadline := time.Now().Add(10 * time.Second)
		for !n.b.Ready() {
			if time.Now().After(deadline) {
				s.t.Fatalf("node %s not ready", n.addr)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func (s *server) nodeAddrs() []string {
	var out []string
	for _, n := range s.nodes {
		out = append(out, n.addr)
	}
	return out
}

// nodeAddr returns node i's own address (modulo the number of nodes): a
// test of what a node does with a subscriber that reads nothing dials it
// directly, since a proxy in between would buffer for the subscriber.
func (s *server) nodeAddr(i int) string { return s.nodes[i%len(s.nodes)].addr }

// node0 is the server's first node, for tests of per-node limits (the
// subscriber cap, --max-conns): they talk to it directly.
func (s *server) node0() *server {
	cp := *s
	cp.addr = s.nodes[0].addr
	return &cp
}

// shutdown shuts every node down, in parallel, within ctx.
func (s *server) shutdown(ctx context.Context) error {
	errs := make(chan error, len(s.nodes))
	for _, n := range s.nodes {
		go func() { errs <- n.b.Shutdown(ctx) }()
	}
	var first error
	for range s.nodes {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
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
	st, r := s.openStream("/sse/"+channel, headers...)
	if st != nil {
		st.checkOpening(s.cfg.Retry)
	}
	return st, r
}

// openStream sends GET path with headers and returns the stream positioned
// after the response head, or the error response.
func (s *server) openStream(path string, headers ...string) (*stream, response) {
	s.t.Helper()
	c := s.dial()
	if _, err := io.WriteString(c, get(path, headers...)); err != nil {
		s.t.Fatal(err)
	}
	br := bufio.NewReader(c)
	tp, err := http.ReadResponse(br, nil)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	if tp.StatusCode != 200 {
		body, _ := io.ReadAll(tp.Body)
		c.Close()
		return nil, response{status: tp.StatusCode, header: tp.Header, body: string(body)}
	}
	st := &stream{t: s.t, c: c, br: br, header: tp.Header}
	s.t.Cleanup(func() { c.Close() })
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

// metric returns one realtime_* sample of the server's /metrics (as
// printed, labels included: `name{label="v"}`) summed over its nodes, 0 if
// absent.
func (s *server) metric(sample string) float64 {
	s.t.Helper()
	return s.scrape()[sample]
}

// scrape returns every realtime_* sample of /metrics, summed over the
// server's nodes.
func (s *server) scrape() map[string]float64 {
	s.t.Helper()
	out := map[string]float64{}
	for _, n := range s.nodes {
		rec := httptest.NewRecorder()
		n.b.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		sc := bufio.NewScanner(rec.Body)
		for sc.Scan() {
			line := sc.Text()
			name, val, ok := strings.Cut(line, " ")
			if !ok || !strings.HasPrefix(name, "realtime_") {
				continue
			}
			v, err := strconv.ParseFloat(val, 64)
			if err != nil {
				s.t.Fatalf("bad sample %q", line)
			}
			out[name] += v
		}
	}
	return out
}

// waitSubscribers waits until GET /channels counts n subscribers on ch:
// across nodes, `delivered` and channel info follow subscribes by a few
// milliseconds (SPEC 7), so a test that asserts them waits for this first.
func (s *server) waitSubscribers(ch string, n int) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.subscribers(ch) != n {
		if time.Now().After(deadline) {
			s.t.Fatalf("channel %s: %d subscribers, want %d", ch, s.subscribers(ch), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// publishHolds reports whether a publish makes the node hold the channel
// (the memory engine); a Redis engine holds only channels it serves to
// local subscribers or polls, and a publish goes to Redis.
func (s *server) publishHolds() bool { return suite.url == nil }

// subscribers returns the subscribers of channel ch as GET /channels
// reports them (every node's), -1 when the channel does not exist.
func (s *server) subscribers(ch string) int {
	s.t.Helper()
	r := s.do(get("/channels/"+ch, bearerHeader(pubToken(s.t))))
	if r.status == 404 {
		return -1
	}
	var info struct{ Subscribers int }
	mustJSON(s.t, r.body, &info)
	return info.Subscribers
}
