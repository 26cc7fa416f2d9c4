package redisproc

import (
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// A server keeps its port while it is down (between Kill and Restart), when
// the port is free for any process to bind. So that concurrent test processes
// using this package never pick such a port, each holds a write lock on the
// byte at offset PORT of one shared file for as long as it owns PORT. The
// kernel drops a process's locks when it exits, however it exits. The locks
// are POSIX record locks, owned by the process: they do not conflict within
// it (reserved covers that), and closing any descriptor of the file would
// drop them all, so the file is opened once and never closed.
var portLocks struct {
	once sync.Once
	f    *os.File // nil if the file cannot be opened: ports are then not locked
}

// lockFile returns the shared lock file, opening it on first use.
func lockFile() *os.File {
	portLocks.once.Do(func() {
		name := filepath.Join(os.TempDir(), "redisproc-ports.lock")
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o666)
		if err == nil {
			portLocks.f = f
		}
	})
	return portLocks.f
}

// lockPort takes the lock on p, reporting false if another process holds it.
// Without a lock file it reports true: the bind checks still apply.
func lockPort(p int) bool {
	return setLock(p, syscall.F_WRLCK) == nil
}

// unlockPort releases the lock on p.
func unlockPort(p int) { setLock(p, syscall.F_UNLCK) }

func setLock(p int, typ int16) error {
	f := lockFile()
	if f == nil {
		return nil
	}
	lk := syscall.Flock_t{Type: typ, Whence: 0, Start: int64(p), Len: 1}
	return syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
}
