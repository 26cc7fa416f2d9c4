package redisproc

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary, re-run by TestServerDiesWithParent, start
// a server in the dir the variable names, print its pid and wait to be
// killed.
const helperEnv = "REDISPROC_TEST_HELPER"

func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		return
	}
	s, err := Start(Options{Dir: dir})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("pid", s.PID(), s.Port())
	time.Sleep(time.Minute)
	os.Exit(1)
}

func TestServerDiesWithParent(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	var pid, port int
	if _, err := fmt.Sscanf(line, "pid %d %d\n", &pid, &port); err != nil || !alive(pid) {
		t.Fatalf("helper said %q (%v), not the pid of a live redis-server", line, err)
	}
	gone := false
	defer func() {
		if !gone { // Pdeathsig failed: do not leave the server behind
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}()
	if lockPort(port) {
		unlockPort(port)
		t.Error("the port of another process's server is not locked")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if !lockPort(port) {
		t.Error("a dead process's port is still locked")
	}
	unlockPort(port)
	waitGone(t, pid, 3*time.Second)
	gone = true
}

// TestServerOutlivesForkingThread starts a server from a goroutine whose
// thread then ends, as Linux ties Pdeathsig to the forking thread.
func TestServerOutlivesForkingThread(t *testing.T) {
	t.Parallel()
	var s *Server
	var tid int
	for s == nil {
		res := make(chan startResult)
		go startOnDoomedThread(res)
		r := <-res
		if r.err != nil {
			t.Fatal(r.err)
		}
		s, tid = r.s, r.tid
	}
	defer s.Stop()
	task := "/proc/self/task/" + strconv.Itoa(tid)
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(task); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("thread %d did not end with its locked goroutine", tid)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if !alive(s.PID()) {
		t.Fatal("redis-server died with the thread of the goroutine that started it")
	}
	mustDo(t, s, "PING")
}

type startResult struct {
	s   *Server
	tid int
	err error
}

// startOnDoomedThread starts a server on a locked thread that ends when it
// returns. The process's main thread never ends, so on it nothing is started
// (s is nil) and the caller tries again.
func startOnDoomedThread(res chan<- startResult) {
	runtime.LockOSThread()
	tid := syscall.Gettid()
	if tid == os.Getpid() {
		runtime.UnlockOSThread()
		res <- startResult{}
		return
	}
	s, err := Start(Options{})
	res <- startResult{s: s, tid: tid, err: err}
}
