package load

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Server is a server process this tool started; Stop ends it.
type Server struct {
	Target  Target
	cmd     *exec.Cmd     // realtime
	exited  chan struct{} // realtime: closed once cmd has exited
	exitErr error         // realtime: cmd.Wait's answer, set before exited closes
	script  string        // nchan.sh of an nchan peer
	dir     string        // nchan's prefix directory
	killed  bool          // realtime: Kill ended it
}

// RealtimeOptions says how to start realtime.
type RealtimeOptions struct {
	Bin    string   // the realtime binary
	Args   []string // extra flags (e.g. --replay-buffer 1000)
	LogDir string   // where its stdout/stderr go; empty: their last 8 KiB are kept for a StartError
	Secret string   // JWT secret; empty: a random one. Nodes that share channels share it, so one token serves them all
}

// StartRealtime starts realtime on free loopback ports with a random JWT
// secret, a 20,000-subscriber cap and the extra flags, waits until it
// answers /healthz and mints a token for every channel. A server that
// exits instead (a bad or unknown flag) is a *StartError.
func StartRealtime(o RealtimeOptions) (*Server, error) {
	port, err1 := FreePort()
	aport, err2 := FreePort()
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	secret := o.Secret
	if secret == "" {
		secret = randomHex(16)
	}
	tok, err := exec.Command(o.Bin, "token", "--jwt-secret", secret, "--sub", "loadtest",
		"--channels", "*", "--publish", "*", "--ttl", "6h").Output()
	if err != nil {
		return nil, fmt.Errorf("load: realtime token: %w", err)
	}
	addr, admin := "127.0.0.1:"+strconv.Itoa(port), "127.0.0.1:"+strconv.Itoa(aport)
	args := append([]string{"--addr", addr, "--admin-addr", admin, "--jwt-secret", secret,
		"--max-subscribers-per-channel", "20000"}, o.Args...)
	cmd := exec.Command(o.Bin, args...)
	// If this process dies, the kernel sends the server SIGTERM: no server
	// outlives its load test. (Go keeps the forking thread alive.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	out, err := captureOutput(cmd, o.LogDir, port)
	if err != nil {
		return nil, err
	}
	err = cmd.Start()
	out.started()
	if err != nil {
		return nil, err
	}
	s := &Server{cmd: cmd, exited: make(chan struct{}), Target: Target{Name: "realtime", Dialect: Realtime,
		Addr: addr, Admin: admin, Token: strings.TrimSpace(string(tok)), PIDs: []int{cmd.Process.Pid}}}
	go func() {
		s.exitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := waitHealthy(addr, 10*time.Second, s.exited); err != nil {
		select {
		case <-s.exited:
			return nil, newStartError(s.exitErr, out.bytes())
		default:
		}
		s.Stop()
		return nil, fmt.Errorf("load: realtime did not start: %w", err)
	}
	return s, nil
}

// StartNchan starts the nginx+nchan peer with script (loadtest/peers/nchan.sh)
// in dir on a free port. Its CPU and RSS are the master's plus its workers'.
func StartNchan(script, dir string) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(script, "start", strconv.Itoa(port), dir).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(ee.Stderr))
		}
		return nil, fmt.Errorf("load: nchan.sh start: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return nil, fmt.Errorf("load: nchan.sh printed %q", out)
	}
	s := &Server{script: script, dir: dir, Target: Target{Name: "nchan", Dialect: Nchan,
		Addr: "127.0.0.1:" + strconv.Itoa(port), PIDs: append([]int{pid}, Children(pid)...)}}
	return s, nil
}

// Stop ends the server: SIGTERM and up to 20 s for realtime (then KILL),
// nchan.sh stop for the peer.
func (s *Server) Stop() error {
	if s.killed {
		return nil
	}
	if s.script != "" {
		out, err := exec.Command(s.script, "stop", s.dir).CombinedOutput()
		if err != nil {
			return fmt.Errorf("load: nchan.sh stop: %w: %s", err, out)
		}
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return s.exitErr
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return errors.New("load: realtime did not stop within 20s; killed")
	}
}

// Kill ends realtime with SIGKILL, like a crash, and waits until it has
// exited. Stop afterwards does nothing.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	s.killed = true
}

// Alive reports whether the server's first process still runs.
func (s *Server) Alive() bool {
	if s.cmd != nil {
		select {
		case <-s.exited:
			return false
		default:
			return true
		}
	}
	return len(s.Target.PIDs) > 0 && syscall.Kill(s.Target.PIDs[0], 0) == nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitHealthy polls addr's /healthz until it answers 200, d passes or
// exited closes (the server is gone).
func waitHealthy(addr string, d time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(d)
	for {
		select {
		case <-exited:
			return errors.New("load: the server exited")
		default:
		}
		p, err := DialPublisher(&Target{Addr: addr})
		if err == nil {
			st, _, err2 := p.get("/healthz")
			p.Close()
			if err2 == nil && st == 200 {
				return nil
			}
			err = err2
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// BuildRealtime compiles the server of the enclosing module into out.
func BuildRealtime(out string) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("load: go build: %w: %s", err, b)
	}
	return nil
}

// ModuleRoot finds the directory of realtime's go.mod, walking up from the
// working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/workkit/realtime\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("load: not inside the realtime module")
		}
		dir = parent
	}
}
