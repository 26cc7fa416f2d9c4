package redisproc

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStartStop(t *testing.T) {
	t.Parallel()
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	pid, dir := s.PID(), s.Dir()
	if pid == 0 || !alive(pid) {
		t.Fatalf("PID() = %d, not a live process", pid)
	}
	if p := s.Port(); p < portLow || p+busOffset >= ephemeralLow() {
		t.Errorf("port %d (bus %d) not below the ephemeral range", p, p+busOffset)
	}
	if want := "redis://127.0.0.1:" + strconv.Itoa(s.Port()) + "/0"; s.URL() != want {
		t.Errorf("URL() = %q, want %q", s.URL(), want)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid, time.Second)
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dir %s still there after Stop: %v", dir, err)
	}
	if s.PID() != 0 {
		t.Errorf("PID() = %d after Stop", s.PID())
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := s.Restart(); !errors.Is(err, errStopped) {
		t.Errorf("Restart after Stop: %v, want errStopped", err)
	}
	reserved.mu.Lock()
	held := reserved.ports[s.Port()]
	reserved.mu.Unlock()
	if held {
		t.Errorf("port %d still reserved after Stop", s.Port())
	}
}

func TestGivenDirIsKept(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "made", "by", "start")
	s := StartT(t, Options{Dir: dir})
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("given dir removed by Stop: %v", err)
	}
}

func TestDo(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "PONG"},
		{[]string{"SET", "k", "a\r\nb"}, "OK"},
		{[]string{"GET", "k"}, "a\r\nb"},
		{[]string{"INCR", "n"}, "1"},
		{[]string{"RPUSH", "l", "x", "", "z"}, "3"},
		{[]string{"LRANGE", "l", "0", "-1"}, "x\n\nz"},
		{[]string{"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"}, "OK"},
		{[]string{"CONFIG", "GET", "maxmemory-policy"}, "maxmemory-policy\nallkeys-lru"},
		{[]string{"CLIENT", "KILL", "TYPE", "pubsub"}, "0"},
		{[]string{"DEBUG", "SLEEP", "0"}, "OK"},
		{[]string{"FLUSHALL"}, "OK"},
		{[]string{"DBSIZE"}, "0"},
	} {
		if got := mustDo(t, s, c.args...); got != c.want {
			t.Errorf("%q = %q, want %q", c.args, got, c.want)
		}
	}
	wantNil(t, s, "k")
	_, err := s.Do("NOSUCHCOMMAND")
	var re *ReplyError
	if !errors.As(err, &re) || !strings.HasPrefix(re.Msg, "ERR unknown command") {
		t.Errorf("unknown command: %v, want a *ReplyError ERR unknown command", err)
	}
	if _, err := s.Do(); err == nil {
		t.Error("Do() without a command succeeded")
	}
}

func TestDoConcurrent(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := s.Do("INCR", "n"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := mustDo(t, s, "GET", "n"); got != "20" {
		t.Errorf("n = %s after 20 concurrent INCRs", got)
	}
}

func TestKillRestartEmpty(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	mustDo(t, s, "SET", "k", "v")
	mustDo(t, s, "SAVE")
	pid := s.PID()
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid, time.Second)
	if s.PID() != 0 {
		t.Errorf("PID() = %d after Kill", s.PID())
	}
	if _, err := s.Do("PING"); err == nil {
		t.Error("PING answered after Kill")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.PID() == 0 || s.PID() == pid {
		t.Errorf("PID() = %d after Restart (was %d)", s.PID(), pid)
	}
	wantNil(t, s, "k")
}

func TestRestartRunning(t *testing.T) {
	t.Parallel()
	s := StartT(t, Options{})
	mustDo(t, s, "SET", "k", "v")
	pid := s.PID()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid, time.Second)
	wantNil(t, s, "k")
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	mustDo(t, s, "PING")
}

func TestLog(t *testing.T) {
	t.Parallel()
	var log strings.Builder
	s := StartT(t, Options{Log: &lockedWriter{w: &log}})
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Ready to accept connections", "Received SIGTERM"} {
		if !strings.Contains(s.LogTail(), w) {
			t.Errorf("LogTail() lacks %q:\n%s", w, s.LogTail())
		}
	}
	if !strings.Contains(log.String(), "Ready to accept connections") {
		t.Errorf("Options.Log lacks the ready line:\n%s", log.String())
	}
}

func TestStartFailureHasLog(t *testing.T) {
	t.Parallel()
	_, err := Start(Options{Args: []string{"--no-such-option", "1"}})
	if err == nil || !strings.Contains(err.Error(), "no-such-option") {
		t.Fatalf("Start with a bad option: %v, want the log line naming it", err)
	}
}

func TestMissingBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for name, err := range map[string]error{
		"Start":        errOf(Start(Options{})),
		"StartCluster": errOf(StartCluster(3, Options{})),
	} {
		if err == nil || !strings.Contains(err.Error(), "apt-get install redis-server") {
			t.Errorf("%s without redis in PATH: %v, want how to install it", name, err)
		}
	}
}

func errOf[T any](_ T, err error) error { return err }
