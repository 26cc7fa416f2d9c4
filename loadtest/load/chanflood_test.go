package load

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestChanFloodE2E floods a server capped at 5,000 channels for 2 s: the
// cap must hold, the polls over it must be answered 503 with Retry-After,
// and nothing else may come back. It needs a server with --max-channels;
// one without fails at start on the unknown flag.
func TestChanFloodE2E(t *testing.T) {
	srv := startServer(t, "--max-channels", "5000")
	p := ChanFloodParams{Conns: 2, Window: 64, Duration: 2 * time.Second, Settle: 500 * time.Millisecond,
		Sample: 250 * time.Millisecond}
	res, o, err := ChanFlood(testEnv(), &srv.Target, p)
	if err != nil {
		t.Fatal(err)
	}
	tl := o.Tally
	t.Logf("tally %+v; peak %+v; notes %v", tl, o.Peak, res.Notes)
	if tl.OK == 0 || tl.OK > 5000 || tl.Refused == 0 || tl.RetryAfter != tl.Refused || tl.Other != 0 {
		t.Fatalf("answers: %+v", tl)
	}
	if o.Peak.Channels < 0 || o.Peak.Channels > 5000 || o.End.Channels > 5000 {
		t.Fatalf("realtime_channels over the cap: peak %d, end %d", o.Peak.Channels, o.End.Channels)
	}
	if len(o.Samples) < 6 || o.Peak.RSS <= 0 || o.LiveEnd <= 0 || o.LiveSettled <= 0 {
		t.Fatalf("%d samples, peak %+v, live heap %d then %d", len(o.Samples), o.Peak, o.LiveEnd, o.LiveSettled)
	}
}

// TestStartUnknownFlag starts the real server with a flag it does not
// have: the start must fail at once with a StartError naming the flag.
func TestStartUnknownFlag(t *testing.T) {
	t0 := time.Now()
	_, err := StartRealtime(RealtimeOptions{Bin: serverBin(t), Args: []string{"--no-such-flag", "1"}})
	var se *StartError
	if !errors.As(err, &se) || se.UnknownFlag != "no-such-flag" || strings.Contains(se.Output, "Usage of") {
		t.Fatalf("err %v (%#v)", err, se)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("took %v to notice the exit", d)
	}
}

func TestNewStartError(t *testing.T) {
	out := "flag provided but not defined: -max-channels\nUsage of realtime:\n  -addr string\n"
	e := newStartError(errors.New("exit status 2"), []byte(out))
	if e.UnknownFlag != "max-channels" || e.Output != "flag provided but not defined: -max-channels" ||
		!strings.Contains(e.Error(), "unknown flag --max-channels") {
		t.Fatalf("%#v: %v", e, e)
	}
	e = newStartError(errors.New("exit status 2"), []byte(`level=ERROR msg="invalid configuration" err="max channels"`))
	if e.UnknownFlag != "" || !strings.Contains(e.Error(), "invalid configuration") {
		t.Fatalf("%#v: %v", e, e)
	}
}

// TestFloodPollsFake drives the flood's connections against a fake server
// that answers 200 to its first 300 polls (less the 3 it drops), then 503
// with Retry-After, closing the connection after some 503s with
// Connection: close and dropping it without a word at others: every answer
// must be counted, every poll must name a new channel, and the flood must
// carry on over new connections.
func TestFloodPollsFake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f := &fakeCap{limit: 300, seen: map[string]bool{}}
	go f.serve(ln)
	tally := newPollTally()
	var next atomic.Int64
	floodPolls(&Target{Addr: ln.Addr().String(), Token: "T"}, ChanFloodParams{Window: 16, Prefix: "flood:"},
		&next, time.Now().Add(300*time.Millisecond), tally)
	tl := tally.snapshot()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dup != "" || tl.OK != 297 || tl.Refused == 0 || tl.RetryAfter != tl.Refused || tl.Other != 0 {
		t.Fatalf("tally %+v, duplicate channel %q", tl, f.dup)
	}
	if tl.Reconnects == 0 || tl.Unanswered == 0 || tl.Answered != int64(f.answered) {
		t.Fatalf("tally %+v; the fake answered %d", tl, f.answered)
	}
}

// fakeCap is a server with a channel cap: the first limit polls get 200,
// the rest 503; every 50th poll closes with Connection: close, every 77th
// is dropped unanswered.
type fakeCap struct {
	limit int

	mu       sync.Mutex
	n        int             // polls read
	seen     map[string]bool // their paths
	dup      string          // a path seen twice
	answered int             // answers written
}

func (f *fakeCap) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go f.conn(c)
	}
}

func (f *fakeCap) conn(c net.Conn) {
	defer c.Close()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		for h := "x"; h != "\r\n"; {
			if h, err = r.ReadString('\n'); err != nil {
				return
			}
		}
		f.mu.Lock()
		f.n++
		n, path := f.n, strings.Fields(line)[1]
		if f.seen[path] {
			f.dup = path
		}
		f.seen[path] = true
		if n%77 != 0 {
			f.answered++
		}
		f.mu.Unlock()
		switch {
		case n%77 == 0:
			w.Flush() // the answers before this one
			return
		case n <= f.limit:
			fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
		case n%50 == 0:
			fmt.Fprintf(w, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
			w.Flush()
			return
		default:
			fmt.Fprintf(w, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n")
		}
		if r.Buffered() == 0 {
			w.Flush()
		}
	}
}
