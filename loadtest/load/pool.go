package load

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Pool is a set of worker processes (this executable re-run with
// REALTIME_LOADTEST_WORKER=1). Its methods are called from one goroutine.
type Pool struct {
	ws []*workerProc
}

type workerProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	enc *json.Encoder
	dec *json.Decoder
}

// StartPool starts n workers that exit on their own at deadline (or when
// the pool's pipes close).
func StartPool(n int, deadline time.Time) (*Pool, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p := &Pool{}
	for range n {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), envWorker+"=1", envDeadline+"="+strconv.FormatInt(deadline.Unix(), 10))
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // besides stdin EOF and the deadline
		in, err1 := cmd.StdinPipe()
		out, err2 := cmd.StdoutPipe()
		if err := errors.Join(err1, err2); err != nil {
			p.Stop()
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			p.Stop()
			return nil, fmt.Errorf("load: start worker: %w", err)
		}
		p.ws = append(p.ws, &workerProc{cmd: cmd, in: in, enc: json.NewEncoder(in),
			dec: json.NewDecoder(bufio.NewReader(out))})
	}
	return p, nil
}

// Size returns the number of workers.
func (p *Pool) Size() int { return len(p.ws) }

// Do sends cmds[i] to worker i (a nil entry skips it) and returns the
// replies, waiting for all of them.
func (p *Pool) Do(cmds []*Cmd) ([]Reply, error) {
	replies := make([]Reply, len(p.ws))
	errs := make([]error, len(p.ws))
	var wg sync.WaitGroup
	for i, w := range p.ws {
		if i >= len(cmds) || cmds[i] == nil {
			continue
		}
		wg.Go(func() {
			if err := w.enc.Encode(cmds[i]); err != nil {
				errs[i] = fmt.Errorf("load: worker %d: %w", i, err)
				return
			}
			if err := w.dec.Decode(&replies[i]); err != nil {
				errs[i] = fmt.Errorf("load: worker %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	return replies, errors.Join(errs...)
}

// Broadcast sends the same command to every worker.
func (p *Pool) Broadcast(c *Cmd) ([]Reply, error) {
	cmds := make([]*Cmd, len(p.ws))
	for i := range cmds {
		cmds[i] = c
	}
	return p.Do(cmds)
}

// Stop closes the workers' stdin (they close their connections and exit)
// and waits up to 10 s for them, then kills the stragglers.
func (p *Pool) Stop() {
	for _, w := range p.ws {
		w.in.Close()
	}
	for _, w := range p.ws {
		done := make(chan struct{})
		go func() { _ = w.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = w.cmd.Process.Kill()
			<-done
		}
	}
	p.ws = nil
}

// Split divides n subscribers into chunks of at most per, as evenly as
// possible.
func Split(n, per int) []int {
	if n <= 0 {
		return nil
	}
	k := (n + per - 1) / per
	out := make([]int, k)
	for i := range out {
		out[i] = n / k
		if i < n%k {
			out[i]++
		}
	}
	return out
}

// SourceAddr returns the loopback source address of worker i: 127.0.0.2,
// 127.0.0.3, ... so that each worker has its own ephemeral port space.
func SourceAddr(i int) string { return fmt.Sprintf("127.0.%d.%d", (i+2)/250, (i+2)%250) }
