package load

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/workkit/realtime/internal/redisproc"
)

// Redis is the Redis a run's realtime nodes share: one redis-server, or a
// Redis Cluster of three masters, started by this tool on loopback ports
// (internal/redisproc, which runs it without RDB or AOF: a restart is empty).
// Its processes' CPU and RSS are measured like a server's. Used from one
// goroutine, except PIDs, which is safe for concurrent use.
type Redis struct {
	servers []*redisproc.Server
	cluster *redisproc.Cluster // nil for one redis-server
	log     *os.File           // redis.log in the run's log directory, if any
}

// StartRedis starts one redis-server, or with cluster a 3-master Redis
// Cluster; with logDir its log goes to logDir/redis-PORT.log.
func StartRedis(cluster bool, logDir string) (*Redis, error) {
	r := &Redis{}
	var o redisproc.Options
	if logDir != "" {
		f, err := os.CreateTemp(logDir, "redis-*.log")
		if err != nil {
			return nil, err
		}
		r.log, o.Log = f, f
	}
	if cluster {
		c, err := redisproc.StartCluster(3, o)
		if err != nil {
			r.closeLog()
			return nil, err
		}
		r.cluster, r.servers = c, c.Nodes
		return r, nil
	}
	s, err := redisproc.Start(o)
	if err != nil {
		r.closeLog()
		return nil, err
	}
	r.servers = []*redisproc.Server{s}
	return r, nil
}

// URL is what realtime's --redis takes: redis://host:port/0 or
// redis-cluster://h1:p1,h2:p2,h3:p3.
func (r *Redis) URL() string {
	if r.cluster != nil {
		return r.cluster.URL()
	}
	return r.servers[0].URL()
}

// Name describes the Redis for reports.
func (r *Redis) Name() string {
	if r.cluster != nil {
		return fmt.Sprintf("Redis Cluster (%d masters)", len(r.servers))
	}
	return "redis-server"
}

// PIDs returns the PIDs of the running redis-server processes (none while
// they are down).
func (r *Redis) PIDs() []int {
	var out []int
	for _, s := range r.servers {
		if pid := s.PID(); pid > 0 {
			out = append(out, pid)
		}
	}
	return out
}

// Kill SIGKILLs every redis-server process, like a crash.
func (r *Redis) Kill() error {
	var errs []error
	for _, s := range r.servers {
		errs = append(errs, s.Kill())
	}
	return errors.Join(errs...)
}

// Restart starts every redis-server again, all at once, empty, on its
// port, and returns once each answers PING.
func (r *Redis) Restart() error {
	errs := make([]error, len(r.servers))
	var wg sync.WaitGroup
	for i, s := range r.servers {
		wg.Go(func() { errs[i] = s.Restart() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// WaitOK waits, for a Cluster, until every slot is served again (a
// restarted master rejoins with its slots); for one server it returns at
// once.
func (r *Redis) WaitOK() error {
	if r.cluster == nil {
		return nil
	}
	return r.cluster.WaitOK(30 * time.Second)
}

// Stop ends every redis-server for good and removes their directories.
func (r *Redis) Stop() error {
	var err error
	if r.cluster != nil {
		err = r.cluster.Stop()
	} else {
		for _, s := range r.servers {
			err = errors.Join(err, s.Stop())
		}
	}
	r.closeLog()
	return err
}

// LogPath is where the Redis log went ("" when it was kept in memory only).
func (r *Redis) LogPath() string {
	if r.log == nil {
		return ""
	}
	return filepath.Clean(r.log.Name())
}

func (r *Redis) closeLog() {
	if r.log != nil {
		r.log.Close()
	}
}
