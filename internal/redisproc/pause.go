package redisproc

import (
	"errors"
	"syscall"
	"time"
)

// errDown is returned by calls that need a running process.
var errDown = errors.New("redisproc: server is down")

// Pause freezes the process with SIGSTOP and schedules SIGCONT after d; it
// returns at once. While frozen, Redis keeps its connections and the kernel
// still completes new TCP handshakes (up to the listen backlog), but nothing
// is read, answered, published or expired, and a cluster node's bus is
// silent too: it looks like a hung host, not a dead one. (CLIENT PAUSE would
// leave the process reading, the cluster bus and replication working, and
// needs a working connection to end it early.) Pausing a paused server
// restarts its pause for d. Kill, Shutdown, Restart and Stop end a pause.
func (s *Server) Pause(d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.exited() {
		return errDown
	}
	if err := s.proc.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	s.cancelResume()
	s.paused = true
	gen := s.pauseGen
	s.resume = time.AfterFunc(d, func() { s.endPause(gen) })
	return nil
}

// Resume ends a pause early; it does nothing to a server that is not paused.
func (s *Server) Resume() error {
	s.mu.Lock()
	gen := s.pauseGen
	s.mu.Unlock()
	return s.endPause(gen)
}

// endPause sends SIGCONT if the server is still in the pause numbered gen.
func (s *Server) endPause(gen uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.paused || s.pauseGen != gen {
		return nil
	}
	s.cancelResume()
	s.paused = false
	return s.proc.signal(syscall.SIGCONT)
}

// cancelResume stops the pending resume, if any, and makes sure an
// already-fired one does nothing. The caller holds mu.
func (s *Server) cancelResume() {
	if s.resume != nil {
		s.resume.Stop()
		s.resume = nil
	}
	s.pauseGen++
}
