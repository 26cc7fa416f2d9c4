package loop

import (
	"errors"

	"github.com/puzpuzpuz/xsync/v3"
	"golang.org/x/sys/unix"
)

// writePoller waits for stalled sockets to become writable again, on an
// epoll instance of its own (netpoll's pollers only watch for input). A
// stalled connection costs no goroutine: it is registered here with
// EPOLLOUT|EPOLLONESHOT and handed back to a flusher when the event fires.
//
//	flush: sendmsg -> EAGAIN -> stalled, arm(fd) ... EPOLLOUT -> writable() -> flush queue
//
// One goroutine runs run; arm and remove are called with the connection's
// wmu held, which keeps the fd open while it is (de)registered.
type writePoller struct {
	epfd  int
	wake  int                        // eventfd that stops run
	conns *xsync.MapOf[int32, *Conn] // fd -> connection registered here
	done  chan struct{}              // closed when run returns
}

func newWritePoller() (*writePoller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, err
	}
	return &writePoller{epfd: epfd, wake: wake, conns: xsync.NewMapOf[int32, *Conn](), done: make(chan struct{})}, nil
}

// arm asks for one EPOLLOUT event on c's socket. c.wmu is held.
func (p *writePoller) arm(c *Conn) error {
	ev := unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLONESHOT, Fd: int32(c.fd)}
	if c.wpollArmed {
		return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev)
	}
	p.conns.Store(int32(c.fd), c)
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		p.conns.Delete(int32(c.fd))
		return err
	}
	c.wpollArmed = true
	return nil
}

// remove unregisters c before its fd is closed. c.wmu is held.
func (p *writePoller) remove(c *Conn) {
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	p.conns.Delete(int32(c.fd))
}

// run dispatches writable sockets until stop.
func (p *writePoller) run() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == int32(p.wake) {
				return
			}
			// An event may outlive its connection: the fd is then either
			// unregistered (no entry) or reused by a newer connection,
			// which at worst gets one spurious, harmless flush.
			if c, ok := p.conns.Load(ev.Fd); ok {
				c.writable()
			}
		}
	}
}

// stop ends run and releases the epoll instance.
func (p *writePoller) stop() {
	var one = [8]byte{1}
	_, _ = unix.Write(p.wake, one[:])
	<-p.done
	unix.Close(p.epfd)
	unix.Close(p.wake)
}
