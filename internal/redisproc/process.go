package redisproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Every child is forked by one goroutine locked to its OS thread for the life
// of the process. Pdeathsig is tied to the thread that forks, not to the
// process: Linux sends it when that thread exits. The Go runtime ends a thread
// only when a goroutine locked to it returns without unlocking, which any
// code (a test, a library) may do on whatever thread last ran cmd.Start.
// A thread locked by spawnLoop runs nothing else and never exits, so a child
// gets SIGKILL exactly when this whole process dies. The cost is that one
// goroutine (and thread) stays after the first Start; goroutine-leak checks
// in callers should allow for a goroutine in spawnLoop.
var spawner struct {
	once sync.Once
	reqs chan spawnReq
}

// spawnReq asks spawnLoop to start cmd and send the result on done.
type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

// spawn starts cmd from the spawner thread.
func spawn(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnReq)
		go spawnLoop(spawner.reqs)
	})
	r := spawnReq{cmd: cmd, done: make(chan error, 1)}
	spawner.reqs <- r
	return <-r.done
}

func spawnLoop(reqs <-chan spawnReq) {
	runtime.LockOSThread()
	for r := range reqs {
		r.done <- r.cmd.Start()
	}
}

// childAttr makes a child die with this process (Pdeathsig) and puts it in
// its own process group, so a terminal's Ctrl-C reaches only the parent,
// which then stops its servers in order.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// process is one started redis-server (or redis-cli) and its reaper.
// It is safe for concurrent use.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // how it exited; written before done is closed
}

// startProcess spawns cmd and reaps it in the background.
func startProcess(cmd *exec.Cmd) (*process, error) {
	cmd.SysProcAttr = childAttr()
	cmd.WaitDelay = time.Second
	if err := spawn(cmd); err != nil {
		return nil, fmt.Errorf("redisproc: start %s: %w", cmd.Path, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// pid is the process id, valid until the process has been reaped.
func (p *process) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has exited and been reaped.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig unless the process has already been reaped (os.Process
// then refuses, so a recycled pid is never signalled).
func (p *process) signal(sig syscall.Signal) error {
	err := p.cmd.Process.Signal(sig)
	if err != nil && !errors.Is(err, os.ErrProcessDone) && !p.exited() {
		return fmt.Errorf("redisproc: signal %d: %w", p.pid(), err)
	}
	return nil
}

// kill sends SIGKILL and waits until the process is reaped.
func (p *process) kill() error {
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-p.done
	return nil
}

// terminate sends SIGTERM, waits up to grace for the exit and kills the
// process if it has not exited by then.
func (p *process) terminate(grace time.Duration) error {
	if err := p.signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		return p.kill()
	}
}
