// Package redisproc starts and controls real redis-server processes on
// 127.0.0.1 for tests, the load tool and demos: single servers and Redis
// Clusters of masters, which can be killed, restarted (empty, or from an
// older RDB snapshot) and frozen.
//
// Every process is a child of this one, ended by its pid, and dies with this
// process (Pdeathsig, see spawn). redis-server and redis-cli must be
// installed (Debian: apt-get install redis-server); without them Start and
// StartCluster fail, they never pretend to succeed.
package redisproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// readyTimeout bounds how long Start and the restarts wait for PONG.
const readyTimeout = 10 * time.Second

// rdbName is the RDB file name inside a server's dir.
const rdbName = "dump.rdb"

// Options configure Start. The zero value is a throwaway standalone server.
type Options struct {
	// Dir is the data directory (working dir, RDB file, cluster config).
	// Empty: a new temporary directory, which Stop removes. A given Dir is
	// kept, but without Persist its dump.rdb is deleted before every start.
	Dir string
	// Port is the client port; 0 picks a free one (whose port+10000 is free
	// too, for a cluster bus).
	Port int
	// Cluster starts the server with cluster-enabled yes and its own
	// nodes.conf in Dir.
	Cluster bool
	// Persist keeps RDB snapshots across restarts. Snapshots are only
	// written on demand (Save, or SAVE through Do) in either mode: Redis runs
	// with save "" and appendonly no, and SIGTERM does not save.
	Persist bool
	// Args are extra redis-server arguments ("--maxmemory", "10mb"), given
	// after the package's own, so they override them.
	Args []string
	// Log receives the server's log, from one goroutine at a time (a
	// cluster's nodes share it through a lock). It is also kept, bounded,
	// for error messages and LogTail.
	Log io.Writer
}

// Server is one redis-server process started by this package on 127.0.0.1
// at a fixed port, with its own directory. It is safe for concurrent use;
// lifecycle calls (Kill, Shutdown, Restart, RestartFrom, Stop) are
// serialized.
type Server struct {
	opts    Options     // immutable
	bin     string      // redis-server's path; immutable
	port    int         // immutable
	ownPort bool        // port came from reservePort; immutable
	dir     string      // immutable
	tempDir bool        // dir was made by Start and Stop removes it; immutable
	tail    *tailBuffer // the kept log; immutable
	out     io.Writer   // where the process's stdout and stderr go; immutable

	life sync.Mutex // held for a whole lifecycle change, outside mu

	mu        sync.Mutex
	proc      *process    // the current process, nil when down; guarded by mu
	stopped   bool        // Stop has run; guarded by mu
	paused    bool        // proc is SIGSTOPped; guarded by mu
	pauseGen  uint64      // numbers pauses, so a stale resume does nothing; guarded by mu
	resume    *time.Timer // ends the current pause, if any; guarded by mu
	snapshots int         // Save calls so far, numbers the copies; guarded by mu
}

// Start starts a redis-server and returns once it answers PING with PONG
// (within 10 s).
func Start(o Options) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redisproc: redis-server is not installed (not found in PATH); install it: apt-get install redis-server")
	}
	s := &Server{opts: o, bin: bin, port: o.Port, dir: o.Dir, tail: &tailBuffer{}}
	s.out = s.tail
	if o.Log != nil {
		s.out = io.MultiWriter(s.tail, o.Log)
	}
	if s.dir == "" {
		s.dir, err = os.MkdirTemp("", "redisproc-")
		s.tempDir = true
	} else {
		err = os.MkdirAll(s.dir, 0o755)
	}
	if err != nil {
		return nil, fmt.Errorf("redisproc: %w", err)
	}
	if err := s.startFirst(); err != nil {
		s.removeDir()
		return nil, err
	}
	return s, nil
}

// startFirst starts the first process, on o.Port or on a free port (drawing
// another one a few times when redis-server loses a race for it).
func (s *Server) startFirst() error {
	if s.port != 0 {
		return s.boot(false)
	}
	var err error
	for range 5 {
		if s.port, err = reservePort(); err != nil {
			return err
		}
		s.ownPort = true
		if err = s.boot(false); !errors.Is(err, errAddrInUse) {
			if err != nil {
				releasePort(s.port)
			}
			return err
		}
		releasePort(s.port)
	}
	return err
}

// Addr is "127.0.0.1:PORT".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is "redis://127.0.0.1:PORT/0".
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Port is the client port, the same across restarts.
func (s *Server) Port() int { return s.port }

// Dir is the server's data directory.
func (s *Server) Dir() string { return s.dir }

// PID is the pid of the running process, or 0 when it is down.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.exited() {
		return 0
	}
	return s.proc.pid()
}

// LogTail returns the last part (up to 32 KiB) of the server's log, across
// restarts.
func (s *Server) LogTail() string { return s.tail.String() }

// Do runs one command on a new connection, within DefaultTimeout, and returns
// the reply as text (see DoContext).
func (s *Server) Do(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	return s.DoContext(ctx, args...)
}

// DoContext runs one command on a new connection within ctx. Strings come
// back as they are, integers in decimal, arrays one element a line. A nil
// reply is ErrNil, an error reply a *ReplyError.
func (s *Server) DoContext(ctx context.Context, args ...string) (string, error) {
	if len(args) == 0 {
		return "", errors.New("redisproc: Do needs a command")
	}
	return doAddr(ctx, s.Addr(), args)
}
