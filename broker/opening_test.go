package broker_test

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/workkit/realtime/broker"
)

// TestFreshStreamOpensWithID: a stream opened without a last id starts
// with the channel's id, so a client that drops before its first event
// resumes from there and misses nothing (SPEC 3.1).
func TestFreshStreamOpensWithID(t *testing.T) {
	s := startServer(t, nil)
	first := s.subscribe("open") // a new channel: its base
	if !first.fresh {
		t.Fatal("fresh stream without an id in its opening frame")
	}
	if p := s.publish("open", "e", "1"); p.ID != first.openID+1 {
		t.Fatalf("first event id %d, want the opening id %d + 1", p.ID, first.openID)
	}
	st := s.subscribe("open")
	if st.openID != first.openID+1 {
		t.Fatalf("opening id %d, want the channel's last id %d", st.openID, first.openID+1)
	}
	st.c.Close() // drops before any event ...
	missed := s.publish("open", "e", "2")
	again := s.subscribe("open", fmt.Sprintf("Last-Event-ID: %d\r\n", st.openID)) // ... and resumes
	if again.fresh {
		t.Fatal("a resume's opening frame carries an id")
	}
	if got := again.nextEvent(); got != frame(missed.ID, "e", "2") {
		t.Fatalf("resume from the opening id: %q", got)
	}
}

// TestRetryHintIsJittered: every stream gets --retry ±25 %, not one value
// for everyone (checkOpening checks the bounds).
func TestRetryHintIsJittered(t *testing.T) {
	s := startServer(t, nil)
	seen := map[int64]bool{}
	for i := 0; i < 30; i++ {
		st := s.subscribe("jit")
		seen[st.retry] = true
		st.c.Close()
	}
	if len(seen) < 5 {
		t.Fatalf("30 streams got %d distinct retry hints: %v", len(seen), seen)
	}
}

// TestTokenExpiryIsJittered: streams of tokens minted together are closed
// at spread moments in the last tenth of the token's lifetime, all before
// it expires. The lifetime is 10 s, so that the window (1 s, ten ticks of
// the connection timers) stays wide even when a loaded machine runs the
// timer goroutine late and it closes several ticks' streams at once.
func TestTokenExpiryIsJittered(t *testing.T) {
	s := startServer(t, nil)
	now := time.Now()
	claims := broker.NewClaims("u", []string{"*"}, nil, 0)
	claims.IssuedAt = jwt.NewNumericDate(now)
	claims.ExpiresAt = jwt.NewNumericDate(now.Add(10 * time.Second))
	tok, err := broker.NewJWTSecret([]byte(testSecret), "").Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	exp := claims.ExpiresAt.Time // whole seconds
	var mu sync.Mutex
	var closed []time.Time
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		st := s.subscribe("exp", bearerHeader(tok))
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			closedWithin(t, c, 15*time.Second)
			mu.Lock()
			closed = append(closed, time.Now())
			mu.Unlock()
		}(st.c)
	}
	wg.Wait()
	lo, hi := closed[0], closed[0]
	for _, at := range closed {
		if at.Before(exp.Add(-1200*time.Millisecond)) || at.After(exp.Add(500*time.Millisecond)) {
			t.Errorf("closed %v before expiry, want within the last second", exp.Sub(at))
		}
		lo, hi = minTime(lo, at), maxTime(hi, at)
	}
	if hi.Sub(lo) < 300*time.Millisecond {
		t.Fatalf("20 streams closed within %v of each other: not jittered", hi.Sub(lo))
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
