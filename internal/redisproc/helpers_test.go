package redisproc

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// alive reports whether pid is a process that is not a zombie (a reparented
// child may stay a zombie in a container whose init does not reap).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// waitGone fails t unless pid is gone within d.
func waitGone(t *testing.T, pid int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive after %v", pid, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mustDo runs a command on s and fails t if it fails.
func mustDo(t *testing.T, s *Server, args ...string) string {
	t.Helper()
	reply, err := s.Do(args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return reply
}

// wantNil fails t unless GET key finds nothing on s.
func wantNil(t *testing.T, s *Server, key string) {
	t.Helper()
	if reply, err := s.Do("GET", key); !errors.Is(err, ErrNil) {
		t.Fatalf("GET %s = %q, %v; want ErrNil", key, reply, err)
	}
}

// wantGet fails t unless GET key on s is want.
func wantGet(t *testing.T, s *Server, key, want string) {
	t.Helper()
	if got := mustDo(t, s, "GET", key); got != want {
		t.Fatalf("GET %s = %q, want %q", key, got, want)
	}
}
