// Command cluster runs a three-node realtime cluster on this machine for
// trying out scale-out (`make cluster`): a redis-server on a free loopback
// port, three realtime nodes sharing it, and a round-robin load balancer in
// front. It prints curl lines that publish on one node and subscribe on
// another, and stops everything it started on Ctrl-C.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/workkit/realtime/internal/redisproc"
	"github.com/workkit/realtime/internal/rrproxy"
)

func main() {
	bin := flag.String("bin", "bin/realtime", "the realtime binary")
	nodes := flag.Int("nodes", 3, "nodes to start")
	lb := flag.String("lb", "127.0.0.1:8080", "load balancer address (a free port is used if it is taken)")
	flag.Parse()
	if err := run(*bin, *nodes, *lb); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func run(bin string, n int, lbAddr string) error {
	redis, err := redisproc.Start(redisproc.Options{Log: os.Stderr})
	if err != nil {
		return err
	}
	defer redis.Stop()
	secret := randomHex(16)
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			_ = p.Process.Signal(syscall.SIGTERM)
			_ = p.Wait()
		}
	}()
	var addrs []string
	for i := 0; i < n; i++ {
		addr, admin := freeAddr(), freeAddr()
		cmd := exec.Command(bin, "--addr", addr, "--admin-addr", admin, "--redis", redis.URL(), "--jwt-secret", secret)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
		if err := waitReady(addr); err != nil {
			return err
		}
		addrs = append(addrs, addr)
	}
	proxy, err := rrproxy.New(lbAddr, addrs)
	if err != nil {
		if proxy, err = rrproxy.New("127.0.0.1:0", addrs); err != nil {
			return err
		}
	}
	defer proxy.Close()
	sub, pub, err := tokens(bin, secret)
	if err != nil {
		return err
	}
	printWelcome(redis.URL(), addrs, proxy.Addr(), sub, pub)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	<-sigs
	fmt.Fprintln(os.Stderr, "\ncluster: stopping")
	return nil
}

// tokens mints a subscriber and a publisher token for every channel.
func tokens(bin, secret string) (sub, pub string, err error) {
	mint := func(flag string) (string, error) {
		out, err := exec.Command(bin, "token", "--jwt-secret", secret, "--sub", "demo", flag, "*", "--ttl", "24h").Output()
		return strings.TrimSpace(string(out)), err
	}
	if sub, err = mint("--channels"); err == nil {
		pub, err = mint("--publish")
	}
	return sub, pub, err
}

func printWelcome(redisURL string, nodes []string, lb, sub, pub string) {
	fmt.Printf(`
A realtime cluster: %d nodes sharing %s, behind a round-robin load balancer.

  nodes:          %s
  load balancer:  http://%s

Subscribe on node 2 (in one terminal):
  curl -N -H 'Authorization: Bearer %s' http://%s/sse/demo

Publish on node 1 (in another):
  curl -X POST -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
    -d '{"event":"greeting","data":{"from":"node 1"}}' http://%s/publish/demo

The channel as every node sees it (subscribers of all nodes):
  curl -H 'Authorization: Bearer %s' http://%s/channels/demo

Or through the load balancer: http://%s/sse/demo, http://%s/publish/demo.
Ctrl-C stops everything.

`, len(nodes), redisURL, strings.Join(nodes, ", "), lb, sub, nodes[min(1, len(nodes)-1)], pub, nodes[0], pub, nodes[len(nodes)-1], lb, lb)
}

func waitReady(addr string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		if r, err := http.Get("http://" + addr + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s not ready within 15s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
