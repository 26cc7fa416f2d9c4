package lifecycle

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRetryAfter500(t *testing.T) {
	r := newReceiver(t, []byte("k"), func(n int) int {
		if n == 0 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	s := mustNew(t, Config{URL: r.srv.URL, Secret: []byte("k"), MaxWait: testWait})
	start(t, s)
	first := names("first", 5)
	for _, ch := range first {
		s.Notify(Occupied, ch, time.Now())
	}
	waitFor(t, "the first POST to fail", func() bool { return s.Stats().Failed == 1 })
	later := names("later", 5) // queued while the first batch waits for its retry
	for _, ch := range later {
		s.Notify(Vacated, ch, time.Now())
	}
	waitSent(t, s, 10)

	reqs := r.requests()
	if string(reqs[1].body) != string(reqs[0].body) {
		t.Errorf("retry sent %s, first attempt %s", reqs[1].body, reqs[0].body)
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap > 5*time.Second {
		t.Errorf("first retry %v after the failure, want within 5s", gap)
	}
	want := append(slices.Clone(first), later...)
	if got := channels(r.delivered()); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	st := s.Stats()
	if st.Sent != 10 || st.Failed != 1 || st.Dropped != 0 || st.Queued != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestDropsCounted(t *testing.T) {
	var recovered atomic.Bool
	r := newReceiver(t, nil, func(int) int {
		if recovered.Load() {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	})
	s := mustNew(t, Config{URL: r.srv.URL, MaxQueue: 10, MaxWait: testWait})
	start(t, s)
	all := names("c", 25)
	for _, ch := range all {
		s.Notify(Occupied, ch, time.Now())
	}
	if st := s.Stats(); st.Dropped != 15 || st.Queued != 10 {
		t.Fatalf("after 25 notifies with MaxQueue 10: stats %+v, want Dropped 15, Queued 10", st)
	}
	waitFor(t, "a failed POST", func() bool { return s.Stats().Failed >= 1 })
	s.Notify(Occupied, "extra", time.Now()) // the failed batch still counts against MaxQueue
	if st := s.Stats(); st.Dropped != 16 {
		t.Fatalf("while retrying: stats %+v, want Dropped 16", st)
	}
	recovered.Store(true)
	waitSent(t, s, 10)
	if got := channels(r.delivered()); !slices.Equal(got, all[:10]) {
		t.Errorf("delivered %v, want %v", got, all[:10])
	}
	if st := s.Stats(); st.Queued != 0 || st.Dropped != 16 {
		t.Errorf("stats %+v", st)
	}
}

func TestRedirectIsFailure(t *testing.T) {
	for _, code := range []int{301, 302, 303, 307, 308} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			var followed atomic.Int64
			mux := http.NewServeMux()
			mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/target", code)
			})
			mux.HandleFunc("/target", func(w http.ResponseWriter, _ *http.Request) {
				followed.Add(1)
			})
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			s := mustNew(t, Config{URL: srv.URL + "/hook", MaxWait: testWait})
			stop := start(t, s)
			s.Notify(Occupied, "a", time.Now())
			waitFor(t, "a failed POST", func() bool { return s.Stats().Failed >= 1 })
			if st := s.Stats(); st.Sent != 0 || st.Queued != 1 {
				t.Errorf("stats %+v, want Sent 0, Queued 1 (kept for retry)", st)
			}
			stop()
			if n := followed.Load(); n != 0 {
				t.Errorf("redirect followed %d times", n)
			}
		})
	}
}

func TestTransportErrorIsRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens: every POST fails to connect
	s := mustNew(t, Config{URL: url, MaxWait: testWait, Timeout: time.Second})
	stop := start(t, s)
	s.Notify(Occupied, "a", time.Now())
	waitFor(t, "a failed POST", func() bool { return s.Stats().Failed >= 1 })
	stop()
	if st := s.Stats(); st.Sent != 0 || st.Dropped != 1 || st.Queued != 0 {
		t.Errorf("after stop: stats %+v, want the event dropped", st)
	}
}

func TestRunReturnsAfterStop(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Run("idle", func(t *testing.T) {
		s := mustNew(t, Config{URL: "http://127.0.0.1:1/"})
		start(t, s)()
	})
	t.Run("flushes queue", func(t *testing.T) {
		r := newReceiver(t, nil, nil)
		s := mustNew(t, Config{URL: r.srv.URL, MaxWait: time.Hour})
		stop := start(t, s)
		s.Notify(Occupied, "a", time.Now())
		s.Notify(Vacated, "a", time.Now())
		stop()
		if got := len(r.delivered()); got != 2 {
			t.Errorf("final attempt delivered %d events, want 2", got)
		}
		s.Notify(Occupied, "late", time.Now())
		if st := s.Stats(); st.Sent != 2 || st.Dropped != 1 || st.Queued != 0 {
			t.Errorf("stats %+v, want Sent 2 and the late event dropped", st)
		}
	})
	t.Run("receiver hangs", func(t *testing.T) {
		release := make(chan struct{})
		var arrived atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			arrived.Add(1)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		s := mustNew(t, Config{URL: srv.URL, MaxWait: testWait, Timeout: 200 * time.Millisecond})
		stop := start(t, s)
		s.Notify(Occupied, "a", time.Now())
		waitFor(t, "the POST in flight", func() bool { return arrived.Load() == 1 })
		stop()
		if st := s.Stats(); st.Dropped != 1 || st.Queued != 0 {
			t.Errorf("stats %+v, want the unsent event dropped", st)
		}
	})
	waitFor(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}

func TestRunTwiceReturns(t *testing.T) {
	s := mustNew(t, Config{URL: "http://127.0.0.1:1/"})
	stop := start(t, s)
	waitFor(t, "Run to start", s.running.Load)
	runAgain(t, s)
	stop()
	runAgain(t, s)
}

// runAgain checks that a second call of s.Run returns at once, though its
// stop channel is never closed.
func runAgain(t *testing.T, s *Sender) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(make(chan struct{}))
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("second Run did not return")
	}
}

func TestConcurrentNotify(t *testing.T) {
	const writers, each = 8, 500
	r := newReceiver(t, nil, nil)
	s := mustNew(t, Config{URL: r.srv.URL, MaxWait: testWait})
	start(t, s)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				s.Notify(Occupied, strconv.Itoa(w)+"/"+strconv.Itoa(i), time.Now())
				_ = s.Stats()
			}
		})
	}
	wg.Wait()
	waitSent(t, s, writers*each)
	next := make([]int, writers) // per writer, the next sequence number expected
	for _, e := range r.delivered() {
		w, i, _ := strings.Cut(e.Channel, "/")
		wi, _ := strconv.Atoi(w)
		ii, _ := strconv.Atoi(i)
		if ii != next[wi] {
			t.Fatalf("writer %d: got event %d, want %d", wi, ii, next[wi])
		}
		next[wi]++
	}
	for _, req := range r.requests() {
		if len(req.events) > DefaultMaxBatch {
			t.Errorf("batch of %d events", len(req.events))
		}
	}
}
