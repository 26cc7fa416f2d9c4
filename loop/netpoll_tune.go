package loop

import (
	"fmt"
	"sync"
	_ "unsafe" // for go:linkname
)

// netpoll takes a "barrier" from this pool for every connection: two
// 32-entry arrays (about 1.3 KiB) that only its own Flush and Write use, to
// gather the output buffer into a sendmsg. We never call them — every byte
// we send leaves through loop.sendmsg — so the barrier is dead weight: the
// largest single item of an idle connection's memory. All connections
// therefore share one barrier.
//
// This reaches into netpoll's unexported state, so it is pinned: go.mod
// fixes netpoll at v0.7.2, and init checks the pool still hands out the
// type it did (a changed layout panics at start-up rather than corrupting
// memory). TestSharedBarrier checks the effect.
//
//go:linkname netpollBarrierPool github.com/cloudwego/netpoll.barrierPool
var netpollBarrierPool sync.Pool

func init() {
	shared := netpollBarrierPool.Get()
	if got := fmt.Sprintf("%T", shared); got != "*netpoll.barrier" {
		panic("BUG: loop: netpoll's barrier pool holds " + got + ", not *netpoll.barrier: revisit netpoll_tune.go")
	}
	netpollBarrierPool.New = func() any { return shared }
}
