package redisproc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// errAddrInUse reports that redis-server could not listen on its port or its
// cluster bus port.
var errAddrInUse = errors.New("redisproc: address already in use")

// clusterNodeTimeout is the default cluster-node-timeout in ms. With Redis's
// own 15 s a dead master would take over 15 s to be noticed and, once marked
// FAIL, stay so for 30 s; with 2 s the others mark it FAIL about 3 s after
// it dies and clear that about 4 s later once it is back. A node frozen by
// Pause for less than about 3 s is not marked FAIL.
const clusterNodeTimeout = "2000"

// args are redis-server's arguments: the package's settings, then o.Args.
func (s *Server) args() []string {
	a := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--protected-mode", "no",
		"--daemonize", "no",
		"--supervised", "no",
		"--logfile", "",
		"--dir", s.dir,
		"--dbfilename", rdbName,
		"--save", "",
		"--appendonly", "no",
		"--shutdown-on-sigterm", "nosave",
		"--enable-debug-command", "local",
	}
	if s.opts.Cluster {
		a = append(a,
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(s.dir, "nodes.conf"),
			"--cluster-node-timeout", clusterNodeTimeout)
	}
	return append(a, s.opts.Args...)
}

// rdbPath is where redis-server reads and writes its RDB file.
func (s *Server) rdbPath() string { return filepath.Join(s.dir, rdbName) }

// boot starts a process and waits until it answers PONG. Without Persist
// and unless keepRDB, it first deletes the RDB file so the server starts
// empty. The caller holds life (or owns s alone, in Start).
func (s *Server) boot(keepRDB bool) error {
	if !s.opts.Persist && !keepRDB {
		if err := os.Remove(s.rdbPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("redisproc: %w", err)
		}
	}
	cmd := exec.Command(s.bin, s.args()...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = s.out, s.out
	mark := s.tail.mark()
	p, err := startProcess(cmd)
	if err != nil {
		return err
	}
	if err := s.waitReady(p); err != nil {
		p.kill()
		log := s.tail.since(mark)
		if errors.Is(err, errAddrInUse) {
			return err
		}
		if strings.Contains(log, "Address already in use") {
			return fmt.Errorf("%w: %s (%v)", errAddrInUse, s.Addr(), err)
		}
		return fmt.Errorf("%w\nredis-server log:\n%s", err, log)
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// waitReady polls PING until it answers PONG, p exits or readyTimeout passes.
func (s *Server) waitReady(p *process) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		reply, err := doAddr(ctx, s.Addr(), []string{"PING"})
		cancel()
		if err == nil && reply == "PONG" {
			return s.checkPID(p)
		}
		if p.exited() {
			return fmt.Errorf("redisproc: redis-server on %s exited at start: %v", s.Addr(), p.err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redisproc: redis-server on %s did not answer PING within %v: %v", s.Addr(), readyTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkPID makes sure the server answering on the port is p, not another
// process that won the port (p then fails to listen and exits).
func (s *Server) checkPID(p *process) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := doAddr(ctx, s.Addr(), []string{"INFO", "server"})
	if err != nil {
		return err
	}
	if !strings.Contains(info, "\nprocess_id:"+strconv.Itoa(p.pid())+"\r\n") {
		return fmt.Errorf("%w: another process answers on %s", errAddrInUse, s.Addr())
	}
	return nil
}
