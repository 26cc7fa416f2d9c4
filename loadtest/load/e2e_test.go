package load

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestMain lets this test binary serve as a load worker when StartPool
// re-executes it, and removes the server it built.
func TestMain(m *testing.M) {
	MaybeWorker()
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// The real server, built once per test binary by serverBin.
var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// serverBin builds the real server (once) and returns its path.
func serverBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and starts the server")
	}
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "loadtest-e2e-"); binErr == nil {
			binErr = BuildRealtime(filepath.Join(binDir, "realtime"))
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "realtime")
}

// startServer starts the real server with the extra flags.
func startServer(t *testing.T, args ...string) *Server {
	t.Helper()
	srv, err := StartRealtime(RealtimeOptions{Bin: serverBin(t), Args: args, LogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

func testEnv() *Env {
	return &Env{PerWorker: 10, Deadline: time.Now().Add(2 * time.Minute)}
}

// TestSmoke runs a tiny fan-out and a tiny churn through the same code as
// the real scenarios (worker processes included) and checks that nothing
// was missing. It asserts no timing.
func TestSmoke(t *testing.T) {
	srv := startServer(t, "--replay-buffer", "1000")
	t.Run("fanout", func(t *testing.T) {
		res, out, err := Fanout(testEnv(), &srv.Target, FanoutParams{Subscribers: 20, Events: 20, Window: 4})
		if err != nil {
			t.Fatal(err)
		}
		c := out.Report.Checks
		if out.Opened != 20 || c.Received != 400 || !c.Clean() || out.Report.Done != 20 {
			t.Fatalf("fanout: opened %d, checks %+v, done %d, notes %v", out.Opened, c, out.Report.Done, res.Notes)
		}
		if out.Latency.N != 400 || out.Publish.Delivered != 400 {
			t.Fatalf("latency samples %d, delivered %d", out.Latency.N, out.Publish.Delivered)
		}
	})
	t.Run("churn", func(t *testing.T) {
		res, rep, err := Churn(testEnv(), &srv.Target, ChurnParams{Clients: 20, Events: 300, Rate: 2000,
			Drops: 3, MaxDown: 5 * time.Millisecond, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		c := rep.Checks
		if rep.Done != 20 || c.Missing != 0 || c.Duplicated != 0 || c.OutOfOrder != 0 {
			t.Fatalf("churn: done %d, checks %+v, notes %v", rep.Done, c, res.Notes)
		}
		if rep.Drops == 0 || rep.Reconnects != rep.Drops {
			t.Fatalf("churn: %d drops, %d reconnects", rep.Drops, rep.Reconnects)
		}
	})
	t.Run("idle", func(t *testing.T) {
		_, o, err := Idle(testEnv(), &srv.Target, IdleParams{Streams: 30, Settle: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if o.Opened != 30 || o.GoroutinesAfter <= 0 {
			t.Fatalf("idle: %+v", o)
		}
	})
}

// TestWorkerProtocol drives serveWorker over pipes: a bad command gets an
// error reply, close is answered, and EOF ends it.
func TestWorkerProtocol(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	eof := make(chan struct{})
	done := make(chan int, 1)
	go func() { done <- serveWorker(inR, outW, func() { close(eof) }) }()
	enc, dec := json.NewEncoder(inW), json.NewDecoder(outR)
	for _, c := range []struct{ op, want string }{{"bogus", "error"}, {"close", "closed"}} {
		if err := enc.Encode(Cmd{Op: c.op}); err != nil {
			t.Fatal(err)
		}
		var r Reply
		if err := dec.Decode(&r); err != nil || r.Op != c.want {
			t.Fatalf("%s: reply %+v %v", c.op, r, err)
		}
	}
	inW.Close()
	<-eof
	if code := <-done; code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
