package redisproc

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// createTimeout bounds redis-cli --cluster create and the wait for a healthy
// cluster after it.
const createTimeout = 30 * time.Second

// Cluster is a Redis Cluster of masters without replicas, one Server each,
// with the 16384 slots split evenly between them. It is safe for concurrent
// use. To crash or restart one node use its Server; then WaitOK waits until
// the cluster serves every slot again.
type Cluster struct {
	Nodes []*Server // immutable
}

// StartCluster starts n (at least 3) cluster-enabled servers, joins them with
// redis-cli --cluster create (no replicas) and returns once every node
// reports cluster_state:ok, knows all n nodes and sees all 16384 slots served.
// o.Cluster is implied. With o.Dir set node i lives in o.Dir/node-i, with
// o.Port set it listens on o.Port+i; o.Log receives every node's log (writes
// serialized).
func StartCluster(n int, o Options) (*Cluster, error) {
	if n < 3 {
		return nil, fmt.Errorf("redisproc: a cluster needs at least 3 masters, not %d", n)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, errors.New("redisproc: redis-cli is not installed (not found in PATH); install it: apt-get install redis-server")
	}
	o.Cluster = true
	if o.Log != nil {
		o.Log = &lockedWriter{w: o.Log}
	}
	c := &Cluster{}
	c.Nodes, err = startNodes(n, o)
	if err == nil {
		err = c.create(cli)
	}
	if err == nil {
		err = c.WaitOK(createTimeout)
	}
	if err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// startNodes starts n servers at once; on error it stops those that started.
func startNodes(n int, o Options) ([]*Server, error) {
	nodes := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		no := o
		if o.Dir != "" {
			no.Dir = filepath.Join(o.Dir, "node-"+strconv.Itoa(i))
		}
		if o.Port != 0 {
			no.Port = o.Port + i
		}
		wg.Go(func() { nodes[i], errs[i] = Start(no) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		(&Cluster{Nodes: nodes}).Stop()
		return nil, err
	}
	return nodes, nil
}

// create runs redis-cli --cluster create over the nodes.
func (c *Cluster) create(cli string) error {
	args := []string{"--cluster", "create"}
	for _, s := range c.Nodes {
		args = append(args, s.Addr())
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	var out bytes.Buffer
	cmd := exec.Command(cli, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	p, err := startProcess(cmd)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-time.After(createTimeout):
		p.kill()
		return fmt.Errorf("redisproc: redis-cli --cluster create took over %v:\n%s", createTimeout, out.String())
	}
	if p.err != nil {
		return fmt.Errorf("redisproc: redis-cli --cluster create: %v:\n%s", p.err, out.String())
	}
	return nil
}

// URL is "redis-cluster://127.0.0.1:P1,127.0.0.1:P2,...".
func (c *Cluster) URL() string {
	addrs := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		addrs[i] = s.Addr()
	}
	return "redis-cluster://" + strings.Join(addrs, ",")
}

// Stop stops every node (as Server.Stop), all at once.
func (c *Cluster) Stop() error {
	errs := make([]error, len(c.Nodes))
	var wg sync.WaitGroup
	for i, s := range c.Nodes {
		if s != nil {
			wg.Go(func() { errs[i] = s.Stop() })
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}
