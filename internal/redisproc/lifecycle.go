package redisproc

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// shutdownGrace is how long Shutdown and Stop wait after SIGTERM before
// they SIGKILL.
const shutdownGrace = 5 * time.Second

// errStopped is returned by calls that need a server Stop has ended.
var errStopped = errors.New("redisproc: server stopped")

// Kill ends the process with SIGKILL, like a crash, and waits until it has
// exited. The dir is kept; Restart brings the server back. Killing a server
// that is down does nothing.
func (s *Server) Kill() error {
	s.life.Lock()
	defer s.life.Unlock()
	if p, _ := s.takeProc(); p != nil {
		return p.kill()
	}
	return nil
}

// Shutdown ends the process gracefully (SIGTERM, which does not save; a
// paused server is resumed first) and waits until it has exited, killing it
// after 5 s. The dir is kept; Restart brings the server back.
func (s *Server) Shutdown() error {
	s.life.Lock()
	defer s.life.Unlock()
	return s.shutdown()
}

// Stop ends the server for good: it shuts the process down as Shutdown does,
// removes the dir if Start made it and gives up the port. Stop is idempotent;
// every other lifecycle call fails after it.
func (s *Server) Stop() error {
	s.life.Lock()
	defer s.life.Unlock()
	s.mu.Lock()
	stopped := s.stopped
	s.stopped = true
	s.mu.Unlock()
	if stopped {
		return nil
	}
	err := s.shutdown()
	if rmErr := s.removeDir(); err == nil {
		err = rmErr
	}
	if s.ownPort {
		releasePort(s.port)
	}
	return err
}

// Restart shuts the server down if it runs (as Shutdown) and starts it again
// on the same port and dir, returning once it answers PONG. With Persist it
// loads the RDB file of the last save; otherwise it starts empty. A cluster
// node keeps its nodes.conf, so it rejoins its cluster with its slots (see
// Cluster.WaitOK).
func (s *Server) Restart() error {
	s.life.Lock()
	defer s.life.Unlock()
	if err := s.shutdown(); err != nil {
		return err
	}
	return s.bootAgain(false)
}

// shutdown is Shutdown; the caller holds life.
func (s *Server) shutdown() error {
	p, paused := s.takeProc()
	if p == nil {
		return nil
	}
	if paused {
		if err := p.signal(syscall.SIGCONT); err != nil {
			return err
		}
	}
	return p.terminate(shutdownGrace)
}

// bootAgain boots on the server's fixed port, retrying for about a second
// while something else briefly holds it. The caller holds life.
func (s *Server) bootAgain(keepRDB bool) error {
	for i := 0; ; i++ {
		s.mu.Lock()
		stopped := s.stopped
		s.mu.Unlock()
		if stopped {
			return errStopped
		}
		err := s.boot(keepRDB)
		if !errors.Is(err, errAddrInUse) || i == 4 {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// takeProc detaches the current process, ending any pending resume, and
// reports whether it was paused.
func (s *Server) takeProc() (p *process, paused bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, paused = s.proc, s.paused
	s.proc, s.paused = nil, false
	s.cancelResume()
	return p, paused
}

// removeDir removes the dir if Start made it.
func (s *Server) removeDir() error {
	if !s.tempDir {
		return nil
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("redisproc: %w", err)
	}
	return nil
}
