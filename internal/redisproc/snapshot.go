package redisproc

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Save runs SAVE and copies the RDB file it wrote to a new file in Dir
// (snapshot-N.rdb), whose path it returns for RestartFrom. It works with or
// without Persist; without it, a restart still starts empty.
func (s *Server) Save() (rdbPath string, err error) {
	s.life.Lock()
	defer s.life.Unlock()
	if _, err := s.Do("SAVE"); err != nil {
		return "", err
	}
	s.mu.Lock()
	s.snapshots++
	n := s.snapshots
	s.mu.Unlock()
	dst := filepath.Join(s.dir, fmt.Sprintf("snapshot-%d.rdb", n))
	if err := copyFile(s.rdbPath(), dst); err != nil {
		return "", err
	}
	return dst, nil
}

// RestartFrom kills the process (SIGKILL), puts a copy of the RDB file at
// rdbPath in its place and starts the server again on the same port, so it
// comes back with that file's data (whatever it held later is gone). The file
// is left as it is, so it can be restored again.
func (s *Server) RestartFrom(rdbPath string) error {
	s.life.Lock()
	defer s.life.Unlock()
	if _, err := os.Stat(rdbPath); err != nil {
		return fmt.Errorf("redisproc: %w", err)
	}
	if p, _ := s.takeProc(); p != nil {
		if err := p.kill(); err != nil {
			return err
		}
	}
	if err := copyFile(rdbPath, s.rdbPath()); err != nil {
		return err
	}
	return s.bootAgain(true)
}

// copyFile copies src to dst through a temporary file renamed into place,
// so dst is never half written.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("redisproc: %w", err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".copy-*")
	if err != nil {
		return fmt.Errorf("redisproc: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return fmt.Errorf("redisproc: copy %s: %w", src, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("redisproc: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("redisproc: %w", err)
	}
	return nil
}
