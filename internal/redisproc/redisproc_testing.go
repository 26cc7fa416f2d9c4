package redisproc

import "testing"

// StartT starts a server for a test, failing the test (never skipping it) if
// that fails, for instance because redis-server is not installed. The server
// is stopped when the test ends, and its log tail is logged if the test
// failed.
func StartT(t testing.TB, o Options) *Server {
	t.Helper()
	s, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("redis-server %s log tail:\n%s", s.Addr(), s.LogTail())
		}
		if err := s.Stop(); err != nil {
			t.Errorf("stop redis-server %s: %v", s.Addr(), err)
		}
	})
	return s
}

// StartClusterT starts a cluster of n masters for a test, failing the test
// if that fails. The cluster is stopped when the test ends, and every node's
// log tail is logged if the test failed.
func StartClusterT(t testing.TB, n int, o Options) *Cluster {
	t.Helper()
	c, err := StartCluster(n, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, s := range c.Nodes {
				t.Logf("redis-server %s log tail:\n%s", s.Addr(), s.LogTail())
			}
		}
		if err := c.Stop(); err != nil {
			t.Errorf("stop redis cluster: %v", err)
		}
	})
	return c
}
