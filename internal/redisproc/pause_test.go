package redisproc

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

func TestPauseTimesOutThenRecovers(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	held, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := s.Pause(time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	_, err = s.DoContext(ctx, "PING")
	cancel()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("PING on a paused server: %v, want a timeout", err)
	}
	held.Write([]byte("PING\r\n"))
	r := bufio.NewReader(held)
	held.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := r.ReadString('\n'); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("held connection answered while paused: %v", err)
	}
	held.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := r.ReadString('\n')
	if err != nil || line != "+PONG\r\n" {
		t.Fatalf("held connection after the pause: %q, %v", line, err)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 3*time.Second {
		t.Errorf("pause lasted %v, want about 1s", d)
	}
	mustDo(t, s, "PING")
}

func TestResumeAndKillEndPause(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	if err := s.Pause(time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	mustDo(t, s, "PING")
	if err := s.Resume(); err != nil {
		t.Errorf("Resume when not paused: %v", err)
	}
	if err := s.Pause(time.Hour); err != nil {
		t.Fatal(err)
	}
	pid := s.PID()
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid, time.Second)
	if err := s.Pause(time.Second); !errors.Is(err, errDown) {
		t.Errorf("Pause when down: %v, want errDown", err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := s.Pause(time.Hour); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Restart of a paused server took %v: SIGTERM waited for the kill", d)
	}
	mustDo(t, s, "PING")
}
