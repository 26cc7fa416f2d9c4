package load

import (
	"syscall"
	"testing"
	"time"
)

// TestClusterNodeKill runs the cluster scenario end to end on a real
// redis-server: 2 nodes, 300 subscribers, the second node SIGKILLed at half
// the events. Its subscribers must all move to the other node and resume
// with nothing lost, duplicated or reordered, and every process the run
// started must be gone when it returns.
func TestClusterNodeKill(t *testing.T) {
	bin := serverBin(t)
	env := &Env{PerWorker: 100, Deadline: time.Now().Add(2 * time.Minute)}
	p := ClusterParams{Nodes: 2, Subscribers: 300, Channels: 2, Events: 200, Rate: 400, Kill: KillNode,
		Settle: 100 * time.Millisecond, Bin: bin, LogDir: t.TempDir()}
	res, out, err := Cluster(env, p)
	if err != nil {
		t.Fatal(err)
	}
	c := out.Report.Checks
	if out.Opened != 300 || c.Missing != 0 || c.Duplicated != 0 || c.OutOfOrder != 0 || c.Resets != 0 {
		t.Fatalf("opened %d, checks %+v, notes %v", out.Opened, c, res.Notes)
	}
	if out.Publish.OK != 400 || out.Report.Done != 300 {
		t.Fatalf("%d publishes OK, %d subscribers done, notes %v", out.Publish.OK, out.Report.Done, res.Notes)
	}
	if v := out.Fault.Victims; v != 150 || out.Report.Moved != v || out.Report.Move.Count() != uint64(v) {
		t.Fatalf("victims %d, moved %d, move times %d", v, out.Report.Moved, out.Report.Move.Count())
	}
	if !out.Nodes[1].Killed || out.Nodes[0].CPU <= 0 && out.Nodes[1].CPU <= 0 {
		t.Fatalf("nodes %+v", out.Nodes)
	}
	pids := append([]int{out.Nodes[0].PID, out.Nodes[1].PID}, out.RedisPIDs...)
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
			t.Errorf("process %d still there after the run (%v)", pid, err)
		}
	}
}

// TestShareOf: round-robin shares add up and differ by at most one.
func TestShareOf(t *testing.T) {
	for _, c := range []struct{ n, nodes int }{{10, 3}, {60000, 4}, {2, 3}} {
		sum := 0
		for i := range c.nodes {
			k := shareOf(c.n, c.nodes, i)
			if k < c.n/c.nodes || k > c.n/c.nodes+1 {
				t.Errorf("%d over %d: node %d gets %d", c.n, c.nodes, i, k)
			}
			sum += k
		}
		if sum != c.n {
			t.Errorf("%d over %d: shares add up to %d", c.n, c.nodes, sum)
		}
	}
}

// TestDealing: over several nodes, subscriber i goes to node (First+i) %
// nodes and every node gets its share of every channel.
func TestDealing(t *testing.T) {
	w := &worker{spec: OpenSpec{Channels: []string{"a", "b"}, Addrs: []string{"n0", "n1", "n2"}, First: 5}}
	seen := map[[2]string]int{}
	for i := range 12 {
		seen[[2]string{w.targetFor(w.nodeOf(i)).Addr, w.channelOf(i)}]++
	}
	if len(seen) != 6 {
		t.Fatalf("node x channel pairs: %v", seen)
	}
	if w.nodeOf(0) != 2 || w.targetFor(w.nodeOf(1)).Addr != "n0" {
		t.Fatalf("subscriber 0 on node %d", w.nodeOf(0))
	}
	alone := &worker{spec: OpenSpec{Target: Target{Addr: "x"}, Channels: []string{"a", "b"}}}
	if alone.channelOf(3) != "b" || alone.targetFor(alone.nodeOf(3)).Addr != "x" {
		t.Fatal("without Addrs: Channels[i % len] on the target")
	}
}
