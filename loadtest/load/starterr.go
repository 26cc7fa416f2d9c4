package load

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
)

// StartError is a realtime that exited before it answered /healthz, with
// the end of what it printed.
type StartError struct {
	Err         error  // its exit status
	Output      string // the last lines it printed
	UnknownFlag string // the flag it rejected as not defined, without dashes; empty when that was not why
}

func (e *StartError) Error() string {
	if e.UnknownFlag != "" {
		return fmt.Sprintf("load: realtime exited at start (%v): unknown flag --%s (this build does not have it)", e.Err, e.UnknownFlag)
	}
	return fmt.Sprintf("load: realtime exited at start (%v): %s", e.Err, e.Output)
}

// undefinedFlag is how Go's flag package names a flag it does not know.
var undefinedFlag = regexp.MustCompile(`flag provided but not defined: -+([A-Za-z0-9_.-]+)`)

// newStartError describes an early exit from the server's output: the
// flag usage that follows a flag error is cut, and the rest bounded.
func newStartError(err error, out []byte) *StartError {
	e := &StartError{Err: err}
	if m := undefinedFlag.FindSubmatch(out); m != nil {
		e.UnknownFlag = string(m[1])
	}
	if i := bytes.Index(out, []byte("\nUsage of ")); i >= 0 {
		out = out[:i]
	}
	const keep = 600
	if len(out) > keep {
		out = out[len(out)-keep:]
	}
	e.Output = string(bytes.TrimSpace(out))
	return e
}

// serverOutput is where a started server's stdout and stderr go: the log
// file realtime-PORT.log in a directory, or a bounded in-memory tail.
type serverOutput struct {
	path string
	file *os.File // the parent's copy of the log file until the child started
	tail *tailWriter
}

// captureOutput points cmd's stdout and stderr at a log file in dir, or at
// a tail without dir.
func captureOutput(cmd *exec.Cmd, dir string, port int) (*serverOutput, error) {
	if dir == "" {
		o := &serverOutput{tail: &tailWriter{max: 8 << 10}}
		cmd.Stdout, cmd.Stderr = o.tail, o.tail
		return o, nil
	}
	o := &serverOutput{path: filepath.Join(dir, "realtime-"+strconv.Itoa(port)+".log")}
	f, err := os.Create(o.path)
	if err != nil {
		return nil, err
	}
	o.file = f
	cmd.Stdout, cmd.Stderr = f, f
	return o, nil
}

// started drops the parent's copy of the log file once the child has its
// own (or failed to start).
func (o *serverOutput) started() {
	if o.file != nil {
		o.file.Close()
		o.file = nil
	}
}

// bytes returns what the server printed (complete once it exited).
func (o *serverOutput) bytes() []byte {
	if o.tail != nil {
		return o.tail.bytes()
	}
	b, _ := os.ReadFile(o.path)
	return b
}

// tailWriter keeps the last max bytes written to it. Safe for concurrent
// use.
type tailWriter struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailWriter) bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.b...)
}
