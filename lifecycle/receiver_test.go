package lifecycle

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// wireEvent is an event as the receiver decodes it.
type wireEvent struct {
	Type    string `json:"type"`
	Channel string `json:"channel"`
	At      int64  `json:"at"`
}

// request is one POST the receiver saw.
type request struct {
	at     time.Time
	header http.Header
	body   []byte
	status int
	events []wireEvent
}

// receiver is a webhook endpoint that records every POST. When secret is
// set it rejects (401) a request whose signature does not verify.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret []byte
	// status picks the answer to the n-th POST (0-based); nil: 200.
	status func(n int) int

	mu   sync.Mutex
	reqs []request // guarded by mu
}

// newReceiver starts a receiver closed at the end of the test.
func newReceiver(t *testing.T, secret []byte, status func(n int) int) *receiver {
	r := &receiver{t: t, secret: secret, status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// serve records the request and answers it.
func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		r.t.Errorf("receiver: read body: %v", err)
		return
	}
	rec := request{at: time.Now(), header: req.Header.Clone(), body: body}
	if err := json.Unmarshal(body, &rec.events); err != nil {
		r.t.Errorf("receiver: decode body %q: %v", body, err)
	}
	r.mu.Lock()
	rec.status = r.answer(len(r.reqs), req, body)
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	w.WriteHeader(rec.status)
}

// answer returns the status for the n-th request.
func (r *receiver) answer(n int, req *http.Request, body []byte) int {
	if req.Method != http.MethodPost {
		r.t.Errorf("receiver: method %s, want POST", req.Method)
	}
	if len(r.secret) > 0 && !verify(r.secret, body, req.Header.Get(SignatureHeader)) {
		return http.StatusUnauthorized
	}
	if r.status == nil {
		return http.StatusOK
	}
	return r.status(n)
}

// verify reports whether header is the valid signature of body: it
// recomputes the HMAC and compares in constant time.
func verify(secret, body []byte, header string) bool {
	hexSum, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// requests returns a copy of the requests seen so far.
func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

// delivered returns the events of the 2xx-answered requests, in order.
func (r *receiver) delivered() []wireEvent {
	var all []wireEvent
	for _, req := range r.requests() {
		if req.status >= 200 && req.status <= 299 {
			all = append(all, req.events...)
		}
	}
	return all
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitSent waits until s has counted n events sent. The receiver records a
// request before answering it, so by then it has seen them all.
func waitSent(t *testing.T, s *Sender, n uint64) {
	t.Helper()
	waitFor(t, strconv.FormatUint(n, 10)+" events sent", func() bool { return s.Stats().Sent == n })
}

// start runs s.Run in a goroutine and returns a func that closes stop and
// waits for Run to return; it is also called at cleanup.
func start(t *testing.T, s *Sender) (stop func()) {
	t.Helper()
	ch := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ch)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(ch)
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				t.Error("Run did not return after stop was closed")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// mustNew is New that fails the test on error.
func mustNew(t *testing.T, cfg Config) *Sender {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// names returns "prefix0" … "prefix<n-1>".
func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

// channels returns the channel names of events.
func channels(events []wireEvent) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Channel
	}
	return out
}
