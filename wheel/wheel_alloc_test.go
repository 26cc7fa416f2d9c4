//go:build !race

package wheel_test

import (
	"testing"
	"time"

	"github.com/workkit/realtime/wheel"
)

type allocConn struct {
	heartbeat wheel.Timer[*allocConn]
	fired     int
}

// TestNoAllocs proves the hot paths allocate nothing.
func TestNoAllocs(t *testing.T) {
	const runs = 100
	w := wheel.New[*allocConn](time.Millisecond, 64, 0)
	conns := make([]allocConn, 4*(runs+1))
	for i := range conns {
		conns[i].heartbeat.Value = &conns[i]
	}
	fire := func(t *wheel.Timer[*allocConn]) { t.Value.fired++ }
	var i, now int64
	next := func() *wheel.Timer[*allocConn] { i++; return &conns[i%int64(len(conns))].heartbeat }
	cases := []struct {
		name string
		f    func()
	}{
		{"Arm new", func() { w.Arm(next(), now+5*ms) }},
		{"Arm armed", func() { w.Arm(&conns[0].heartbeat, now+i%200*ms); i++ }},
		{"Stop", func() { w.Stop(next()) }},
		{"Advance firing", func() {
			w.Arm(next(), now+ms)
			w.Arm(next(), now+2*ms)
			now += 2 * ms
			w.Advance(now, fire)
		}},
	}
	for _, c := range cases {
		i = 0
		if a := testing.AllocsPerRun(runs, c.f); a != 0 {
			t.Errorf("%s: %v allocs/op, want 0", c.name, a)
		}
	}
	if conns[1].fired == 0 {
		t.Fatal("Advance fired nothing")
	}
}
