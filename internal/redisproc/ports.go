package redisproc

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// busOffset is how far above its client port a cluster node listens for the
// cluster bus (fixed by Redis).
const busOffset = 10000

// Ports are picked in [portLow, portLow+busOffset), bus ports thus in
// [portLow+busOffset, portLow+2*busOffset): the two ranges do not overlap,
// and both lie below the kernel's ephemeral range, so no node's port or bus
// port can be taken as the source port of some outgoing connection while the
// node is down between Kill and Restart (a load test opens thousands of
// those). A lower ephemeral range shrinks the client range.
const portLow = 10000

// minRange is the smallest such range worth drawing from; below it (an
// unusual ip_local_port_range) ports come from the kernel instead.
const minRange = 1000

// reserved holds the ports this process has handed out and not yet released,
// so that two servers started at the same time never draw the same port.
// Other processes learn of them through the port lock file (portlock.go).
var reserved struct {
	mu    sync.Mutex
	ports map[int]bool // guarded by mu
}

// reservePort returns a port that is free on 127.0.0.1, and whose bus port
// (port+10000) is free too. The caller must releasePort it when done.
func reservePort() (int, error) {
	lo, hi := portLow, min(portLow+busOffset, ephemeralLow()-busOffset)
	for range 200 {
		var p int
		if hi-lo >= minRange {
			p = lo + rand.IntN(hi-lo)
		} else {
			var err error
			if p, err = kernelPort(); err != nil {
				return 0, err
			}
			if p+busOffset > 65535 {
				continue
			}
		}
		if tryReserve(p) {
			return p, nil
		}
	}
	return 0, errors.New("redisproc: found no free port pair (port and port+10000) on 127.0.0.1")
}

// tryReserve reserves p if neither p nor p+busOffset is reserved or bound.
func tryReserve(p int) bool {
	reserved.mu.Lock()
	defer reserved.mu.Unlock()
	if reserved.ports[p] || !portFree(p) || !portFree(p+busOffset) || !lockPort(p) {
		return false
	}
	if reserved.ports == nil {
		reserved.ports = make(map[int]bool)
	}
	reserved.ports[p] = true
	return true
}

// releasePort makes p available to reservePort again.
func releasePort(p int) {
	reserved.mu.Lock()
	delete(reserved.ports, p)
	unlockPort(p)
	reserved.mu.Unlock()
}

// portFree reports whether 127.0.0.1:p can be listened on right now.
func portFree(p int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// kernelPort asks the kernel for a free port by listening on port 0.
func kernelPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redisproc: pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ephemeralLow is the first port of the kernel's ephemeral range.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return n
}
