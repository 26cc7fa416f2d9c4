package redisproc

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCluster(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := StartClusterT(t, 3, Options{})
	t.Logf("3 masters formed a cluster in %v", time.Since(start))
	addrs := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		addrs[i] = s.Addr()
		info := mustDo(t, s, "CLUSTER", "INFO")
		for _, w := range []string{"cluster_state:ok", "cluster_slots_assigned:16384", "cluster_size:3"} {
			if !strings.Contains(info, w) {
				t.Errorf("%s: CLUSTER INFO lacks %s", s.Addr(), w)
			}
		}
	}
	if want := "redis-cluster://" + strings.Join(addrs, ","); c.URL() != want {
		t.Errorf("URL() = %q, want %q", c.URL(), want)
	}
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for _, k := range keys {
		if _, err := c.Do("SET", k, "v-"+k); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	owners := map[string]bool{}
	for _, k := range keys {
		if got, err := c.Do("GET", k); err != nil || got != "v-"+k {
			t.Errorf("GET %s = %q, %v", k, got, err)
		}
		owners[ownerOf(t, c, k)] = true
	}
	if len(owners) != 3 {
		t.Errorf("keys %v live on %d nodes, want all 3", keys, len(owners))
	}
}

// ownerOf returns the address of the node that holds key, checking that the
// other nodes answer MOVED for it.
func ownerOf(t *testing.T, c *Cluster, key string) string {
	t.Helper()
	owner := ""
	for _, s := range c.Nodes {
		_, err := s.Do("GET", key)
		var re *ReplyError
		switch {
		case err == nil:
			owner = s.Addr()
		case errors.As(err, &re) && strings.HasPrefix(re.Msg, "MOVED "):
		default:
			t.Fatalf("GET %s on %s: %v", key, s.Addr(), err)
		}
	}
	if owner == "" {
		t.Fatalf("no node holds %s", key)
	}
	return owner
}

func TestClusterNodeRestart(t *testing.T) {
	t.Parallel()
	c := StartClusterT(t, 3, Options{})
	n := c.Nodes[1]
	id := mustDo(t, n, "CLUSTER", "MYID")
	if err := n.Kill(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		info, err := c.Nodes[0].Do("CLUSTER", "INFO")
		if err == nil && strings.Contains(info, "cluster_state:fail") {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("cluster still ok %v after a master died", time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the others saw the cluster fail after %v", time.Since(start))
	if _, err := c.Nodes[0].Do("GET", "k"); err == nil || !strings.Contains(err.Error(), "CLUSTERDOWN") {
		t.Errorf("GET on a failed cluster: %v, want CLUSTERDOWN", err)
	}
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := c.WaitOK(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("ok again %v after the restart", time.Since(start))
	if got := mustDo(t, n, "CLUSTER", "MYID"); got != id {
		t.Errorf("restarted node's id %s, was %s", got, id)
	}
	if _, err := c.Do("SET", "k", "v"); err != nil {
		t.Error(err)
	}
}

func TestClusterNeedsThree(t *testing.T) {
	t.Parallel()
	if _, err := StartCluster(2, Options{}); err == nil || !strings.Contains(err.Error(), "at least 3") {
		t.Errorf("StartCluster(2): %v, want at least 3", err)
	}
}
