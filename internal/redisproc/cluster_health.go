package redisproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// WaitOK waits up to timeout until every node reports cluster_state:ok,
// knows every node and sees all 16384 slots assigned and served (no owner
// in PFAIL or FAIL). A restarted node reports ok about 2 s after it starts
// (Redis's rejoin delay); if the others had already marked it FAIL (some 3 s
// after it died, with the 2 s node timeout set here), they clear that about
// 4 s after marking it.
func (c *Cluster) WaitOK(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := c.healthy()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redisproc: cluster not ok after %v: %w", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// healthy returns nil if every node is healthy, or why one is not.
func (c *Cluster) healthy() error {
	want := []string{
		"cluster_state:ok",
		"cluster_slots_assigned:16384",
		"cluster_slots_ok:16384",
		"cluster_known_nodes:" + strconv.Itoa(len(c.Nodes)),
	}
	for _, s := range c.Nodes {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		info, err := s.DoContext(ctx, "CLUSTER", "INFO")
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", s.Addr(), err)
		}
		for _, w := range want {
			if !strings.Contains(info, w+"\r\n") {
				return fmt.Errorf("%s: no %s in CLUSTER INFO:\n%s", s.Addr(), w, info)
			}
		}
	}
	return nil
}

// Do runs one command on the cluster within DefaultTimeout (see DoContext).
func (c *Cluster) Do(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	return c.DoContext(ctx, args...)
}

// DoContext runs one command on the first running node and follows MOVED
// and ASK redirections (up to 5), so a key command reaches the node that
// serves its slot. The reply is as Server.DoContext returns it.
func (c *Cluster) DoContext(ctx context.Context, args ...string) (string, error) {
	if len(args) == 0 {
		return "", errors.New("redisproc: Do needs a command")
	}
	addr := c.Nodes[0].Addr()
	for _, s := range c.Nodes {
		if s.PID() != 0 {
			addr = s.Addr()
			break
		}
	}
	asking := false
	for range 5 {
		reply, err := doAsking(ctx, addr, asking, args)
		var re *ReplyError
		if !errors.As(err, &re) {
			return reply, err
		}
		kind, target, ok := redirection(re.Msg)
		if !ok {
			return reply, err
		}
		addr, asking = target, kind == "ASK"
	}
	return "", fmt.Errorf("redisproc: %s: more than 5 redirections", args[0])
}

// redirection parses "MOVED slot host:port" and "ASK slot host:port".
// An empty host (a node that does not know its address) means 127.0.0.1.
func redirection(msg string) (kind, addr string, ok bool) {
	f := strings.Fields(msg)
	if len(f) != 3 || (f[0] != "MOVED" && f[0] != "ASK") {
		return "", "", false
	}
	host, port, err := net.SplitHostPort(f[2])
	if err != nil {
		return "", "", false
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return f[0], net.JoinHostPort(host, port), true
}
