package loop

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxIovecs bounds the frames gathered into one sendmsg.
const maxIovecs = 64

// sendmsg writes iov to fd in one non-blocking call without SIGPIPE. It
// returns the bytes written; err is unix.EAGAIN when the socket buffer is
// full.
func sendmsg(fd int, iov []unix.Iovec) (int, error) {
	var msg unix.Msghdr
	msg.Iov = &iov[0]
	msg.SetIovlen(len(iov))
	for {
		n, _, errno := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)),
			unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT)
		switch errno {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		default:
			return 0, errno
		}
	}
}

// setIovec points v at b.
func setIovec(v *unix.Iovec, b []byte) {
	v.Base = unsafe.SliceData(b)
	v.SetLen(len(b))
}

// setSendBuffer sets SO_SNDBUF (the kernel doubles it for bookkeeping).
func setSendBuffer(fd, size int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, size)
}

// defaultMaxConns is RLIMIT_NOFILE minus a reserve of 64 descriptors for
// listeners, logs and outgoing calls.
func defaultMaxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur < 128 {
		return 64
	}
	return int(rl.Cur) - 64
}

// isTemporary reports an error after which a write may be retried later.
func isTemporary(err error) bool {
	return err == unix.EAGAIN || err == unix.EWOULDBLOCK || err == unix.ENOBUFS
}
