package lifecycle

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// testWait is the MaxWait of the tests.
const testWait = 50 * time.Millisecond

func TestNewValidates(t *testing.T) {
	bad := []Config{
		{URL: ""},
		{URL: "/hook"},
		{URL: "ftp://example.com/hook"},
		{URL: "http://"},
		{URL: "http://exa mple.com/"},
		{URL: "http://example.com/", MaxQueue: -1},
		{URL: "http://example.com/", MaxBatch: -1},
		{URL: "http://example.com/", MaxWait: -1},
		{URL: "http://example.com/", Timeout: -1},
	}
	for _, cfg := range bad {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", cfg)
		}
	}
	s := mustNew(t, Config{URL: "https://example.com/hook"})
	c := s.cfg
	if c.MaxQueue != DefaultMaxQueue || c.MaxBatch != DefaultMaxBatch ||
		c.MaxWait != DefaultMaxWait || c.Timeout != DefaultTimeout || c.Client == nil || c.Log == nil {
		t.Errorf("defaults not filled: %+v", c)
	}
}

func TestSignature(t *testing.T) {
	secret := []byte("s3cret")
	r := newReceiver(t, secret, nil)
	s := mustNew(t, Config{URL: r.srv.URL, Secret: secret, MaxWait: testWait})
	start(t, s)
	at := time.UnixMilli(1764590000000)
	s.Notify(Occupied, "a", at)
	s.Notify(Vacated, "a", at.Add(time.Second))
	waitSent(t, s, 2)

	for _, req := range r.requests() {
		if req.status != http.StatusOK {
			t.Errorf("status %d: signature %q rejected", req.status, req.header.Get(SignatureHeader))
		}
		if got := req.header.Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type %q", got)
		}
		if got := req.header.Get("User-Agent"); got != "realtime-lifecycle/1" {
			t.Errorf("User-Agent %q", got)
		}
		sig := req.header.Get(SignatureHeader)
		if !verify(secret, req.body, sig) {
			t.Errorf("valid signature %q does not verify", sig)
		}
		tampered := bytes.Replace(req.body, []byte(`"a"`), []byte(`"b"`), 1)
		if verify(secret, tampered, sig) {
			t.Errorf("tampered body %s verifies", tampered)
		}
		if verify([]byte("other"), req.body, sig) {
			t.Error("signature verifies with another secret")
		}
	}
	want := []wireEvent{{Occupied, "a", 1764590000000}, {Vacated, "a", 1764590001000}}
	if got := r.delivered(); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
}

func TestNoSecretOmitsHeader(t *testing.T) {
	r := newReceiver(t, nil, nil)
	s := mustNew(t, Config{URL: r.srv.URL, MaxWait: testWait})
	start(t, s)
	s.Notify(Occupied, "a", time.Now())
	waitSent(t, s, 1)
	if h, ok := r.requests()[0].header[SignatureHeader]; ok {
		t.Errorf("%s sent without a secret: %q", SignatureHeader, h)
	}
}

func TestSignKnownValue(t *testing.T) {
	// HMAC-SHA256 test case 2 of RFC 4231.
	got := Sign([]byte("Jefe"), []byte("what do ya want for nothing?"))
	want := "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestBatchesOf100InOrder(t *testing.T) {
	r := newReceiver(t, nil, nil)
	s := mustNew(t, Config{URL: r.srv.URL, MaxWait: testWait})
	want := names("c", 250)
	for _, ch := range want {
		s.Notify(Occupied, ch, time.Now())
	}
	start(t, s)
	waitSent(t, s, 250)

	var sizes []int
	for _, req := range r.requests() {
		sizes = append(sizes, len(req.events))
	}
	if !slices.Equal(sizes, []int{100, 100, 50}) {
		t.Errorf("batch sizes %v, want [100 100 50]", sizes)
	}
	if got := channels(r.delivered()); !slices.Equal(got, want) {
		t.Errorf("events out of order: %v", got)
	}
	st := s.Stats()
	if st.Sent != 250 || st.Batches != 3 || st.Queued != 0 || st.Failed != 0 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestSingleEventSentAfterMaxWait(t *testing.T) {
	r := newReceiver(t, nil, nil)
	s := mustNew(t, Config{URL: r.srv.URL, MaxWait: testWait})
	start(t, s)
	begin := time.Now()
	s.Notify(Vacated, "solo", begin)
	waitSent(t, s, 1)
	if waited := r.requests()[0].at.Sub(begin); waited < testWait {
		t.Errorf("sent after %v, before MaxWait %v", waited, testWait)
	}
}

func TestJSONEscapingRoundTrip(t *testing.T) {
	r := newReceiver(t, nil, nil)
	s := mustNew(t, Config{URL: r.srv.URL, MaxWait: testWait})
	odd := []string{
		`say "hi"`,
		`back\slash\`,
		"ctl\x00\x01\x07\x1f\t\n\r\x7f",
		"ünïcødé 日本語 🎉",
		"line\u2028para\u2029",
		"<script>&amp;</script>",
		"",
		`{"type":"channel.vacated"}`,
	}
	var want []wireEvent
	for i, ch := range odd {
		typ := Occupied
		if i%2 == 1 {
			typ = Vacated
		}
		at := time.UnixMilli(1764590000000 + int64(i))
		s.Notify(typ, ch, at)
		want = append(want, wireEvent{typ, ch, at.UnixMilli()})
	}
	start(t, s)
	waitSent(t, s, uint64(len(odd)))
	if !json.Valid(r.requests()[0].body) {
		t.Fatalf("invalid JSON: %q", r.requests()[0].body)
	}
	if got := r.delivered(); !slices.Equal(got, want) {
		t.Errorf("round trip:\n got %+q\nwant %+q", channels(got), channels(want))
	}
}

func TestNotifyAllocs(t *testing.T) {
	const runs = 1000
	s := mustNew(t, Config{URL: "http://127.0.0.1:1/", MaxQueue: 2 * runs})
	at := time.Now()
	ch := "room"
	// Grow the queue to its working size, then empty it as Run would.
	for range runs + 1 {
		s.Notify(Occupied, ch, at)
	}
	for len(s.take()) > 0 {
	}
	s.release(runs + 1)

	queued := testing.AllocsPerRun(runs, func() { s.Notify(Occupied, ch, at) })
	if queued > 1 {
		t.Errorf("Notify (queued): %v allocs/op, want at most 1", queued)
	}
	for s.Stats().Queued < s.cfg.MaxQueue {
		s.Notify(Occupied, ch, at)
	}
	dropped := testing.AllocsPerRun(runs, func() { s.Notify(Vacated, ch, at) })
	if dropped > 1 {
		t.Errorf("Notify (dropped): %v allocs/op, want at most 1", dropped)
	}
	t.Logf("allocs/op: queued %v, dropped %v", queued, dropped)
}

func BenchmarkNotify(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	s, err := New(Config{URL: srv.URL, MaxWait: testWait})
	if err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(stop)
	}()
	at := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		s.Notify(Occupied, "room", at)
	}
	b.StopTimer()
	close(stop)
	<-done
}
