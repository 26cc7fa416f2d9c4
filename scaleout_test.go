package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/workkit/realtime/internal/redisproc"
)

// These tests run several real nodes on one real Redis (SPEC 7).

// cluster is a set of nodes sharing one Redis.
type cluster struct {
	t     *testing.T
	redis *redisproc.Server
	nodes []*proc
	tok   string
}

// startCluster starts redis-server and n nodes on it with --auth none
// (authorization is not what these tests are about).
func startCluster(t *testing.T, n int, opts redisproc.Options, args ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, redis: redisproc.StartT(t, opts)}
	for i := 0; i < n; i++ {
		c.nodes = append(c.nodes, c.startNode(args...))
	}
	return c
}

func (c *cluster) startNode(args ...string) *proc {
	c.t.Helper()
	p := start(c.t, nil, append([]string{"--redis", c.redis.URL(), "--auth", "none", "--max-subscribers-per-channel", "20000"}, args...)...)
	waitHTTP(c.t, "http://"+p.addr+"/readyz", 200)
	return p
}

// waitHTTP waits until url answers status.
func waitHTTP(t *testing.T, url string, status int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if r, err := http.Get(url); err == nil {
			r.Body.Close()
			if r.StatusCode == status {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer %d", url, status)
		}
	}
}

// publishOn publishes one event through node addr and returns its id, or
// the status when it is not 200.
func publishOn(addr, channel, data string) (uint64, int, error) {
	body := fmt.Sprintf(`{"event":"e","data":%s}`, data)
	r, err := http.Post("http://"+addr+"/publish/"+channel, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != 200 {
		return 0, r.StatusCode, nil
	}
	var id uint64
	_, err = fmt.Sscanf(string(b[strings.Index(string(b), `"id":`)+5:]), "%d", &id)
	return id, 200, err
}

// follower is an SSE client that follows one channel across nodes: it
// resumes with Last-Event-ID on the next live node whenever its stream
// ends, and records every event id and reset it got.
type follower struct {
	mu     sync.Mutex
	ids    []uint64
	resets []string
	last   uint64
	moves  int
}

// follow reads channel from addrs[start] on, moving on when a node dies,
// until stop is closed.
func (f *follower) follow(addrs []string, start int, channel string, stop <-chan struct{}) {
	for i := start; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		f.stream(addrs[i%len(addrs)], channel, stop)
	}
}

func (f *follower) stream(addr, channel string, stop <-chan struct{}) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		time.Sleep(20 * time.Millisecond)
		return
	}
	defer c.Close()
	go func() { <-stop; c.Close() }()
	f.mu.Lock()
	resume := ""
	if f.last != 0 {
		resume = "Last-Event-ID: " + strconv.FormatUint(f.last, 10) + "\r\n"
		f.moves++
	}
	f.mu.Unlock()
	fmt.Fprintf(c, "GET /sse/%s HTTP/1.1\r\nHost: t\r\n%s\r\n", channel, resume)
	br := bufio.NewReader(c)
	if r, err := http.ReadResponse(br, nil); err != nil || r.StatusCode != 200 {
		time.Sleep(20 * time.Millisecond)
		return
	}
	for {
		fr, err := readFrameErr(br)
		if err != nil {
			return
		}
		f.record(fr)
	}
}

// record notes one frame: an event, a reset, or the opening id.
func (f *follower) record(fr string) {
	var id uint64
	for _, line := range strings.Split(fr, "\n") {
		if v, ok := strings.CutPrefix(line, "id: "); ok {
			id, _ = strconv.ParseUint(v, 10, 64)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case strings.Contains(fr, "event: realtime.reset"):
		f.resets = append(f.resets, fr)
	case strings.Contains(fr, "data: "):
		f.ids = append(f.ids, id)
	}
	if id != 0 {
		f.last = id
	}
}

func readFrameErr(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		b.WriteString(line)
		if line == "\n" {
			return b.String(), nil
		}
	}
}

// TestNodeKilledMidStream: 3,000 clients on three nodes; one node is
// SIGKILLed while events flow; its clients resume on the others and every
// client ends with every event once, in order, and no reset.
func TestNodeKilledMidStream(t *testing.T) {
	c := startCluster(t, 3, redisproc.Options{})
	addrs := []string{c.nodes[0].addr, c.nodes[1].addr, c.nodes[2].addr}
	stop := make(chan struct{})
	fs := make([]*follower, 3000)
	var wg sync.WaitGroup
	for i := range fs {
		fs[i] = &follower{}
		wg.Add(1)
		go func() { defer wg.Done(); fs[i].follow(addrs, i, "kill", stop) }()
	}
	waitHTTPBody(t, "http://"+addrs[0]+"/channels/kill", `"subscribers":3000,`)
	var published []uint64
	for i := 0; i < 300; i++ {
		if i == 100 { // its clients find its port refused and move on to the next node
			c.nodes[2].cmd.Process.Signal(syscall.SIGKILL)
		}
		id, status, err := publishOn(addrs[i%2], "kill", fmt.Sprint(i))
		if err != nil || status != 200 {
			t.Fatalf("publish %d: %d %v", i, status, err)
		}
		published = append(published, id)
		time.Sleep(2 * time.Millisecond)
	}
	moved := 0
	waitUntil(t, "every client to have every event", 30*time.Second, func() bool {
		moved = 0
		for _, f := range fs {
			f.mu.Lock()
			done := len(f.ids) >= len(published)
			moved += f.moves
			f.mu.Unlock()
			if !done {
				return false
			}
		}
		return true
	})
	close(stop)
	wg.Wait()
	for i, f := range fs {
		if !slices.Equal(f.ids, published) || len(f.resets) != 0 {
			t.Fatalf("client %d: %d events (want %d, in order, once), resets %q", i, len(f.ids), len(published), f.resets)
		}
	}
	if moved < 900 {
		t.Fatalf("only %d clients resumed elsewhere", moved)
	}
}

func waitHTTPBody(t *testing.T, url, want string) {
	t.Helper()
	waitUntil(t, url+" to say "+want, 20*time.Second, func() bool {
		r, err := http.Get(url)
		if err != nil {
			return false
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return strings.Contains(string(b), want)
	})
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestConcurrentPublishersOnThreeNodes: ids assigned by three nodes at once
// are unique and consecutive, and subscribers on every node see them all in
// one order.
func TestConcurrentPublishersOnThreeNodes(t *testing.T) {
	c := startCluster(t, 3, redisproc.Options{})
	stop := make(chan struct{})
	defer close(stop)
	fs := []*follower{{}, {}, {}}
	for i, f := range fs {
		go f.follow([]string{c.nodes[i].addr}, 0, "many", stop)
	}
	waitHTTPBody(t, "http://"+c.nodes[0].addr+"/channels/many", `"subscribers":3,`)
	var mu sync.Mutex
	var ids []uint64
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				id, status, err := publishOn(n.addr, "many", "1")
				if err != nil || status != 200 {
					t.Errorf("publish: %d %v", status, err)
					return
				}
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] != ids[i-1]+1 {
			t.Fatalf("ids not consecutive: %d then %d", ids[i-1], ids[i])
		}
	}
	waitUntil(t, "every subscriber to get 300 events", 10*time.Second, func() bool {
		for _, f := range fs {
			f.mu.Lock()
			n := len(f.ids)
			f.mu.Unlock()
			if n < 300 {
				return false
			}
		}
		return true
	})
	for i, f := range fs {
		if !slices.Equal(f.ids, ids) {
			t.Fatalf("subscriber on node %d saw another order", i)
		}
	}
}

// TestRedisKilledAndRestartedEmpty: publishes get 503 while Redis is down,
// streams stay open, and afterwards they get buffer_gap and the new
// incarnation, whose ids are above every old one; /readyz follows.
func TestRedisKilledAndRestartedEmpty(t *testing.T) {
	c := startCluster(t, 2, redisproc.Options{}, "--heartbeat", "300ms")
	stop := make(chan struct{})
	defer close(stop)
	f := &follower{}
	go f.follow([]string{c.nodes[1].addr}, 0, "r", stop)
	waitHTTPBody(t, "http://"+c.nodes[0].addr+"/channels/r", `"subscribers":1,`)
	old, _, _ := publishOn(c.nodes[0].addr, "r", "1")
	if err := c.redis.Kill(); err != nil {
		t.Fatal(err)
	}
	waitHTTP(t, "http://"+c.nodes[0].admin+"/readyz", 503)
	if _, status, _ := publishOn(c.nodes[0].addr, "r", "2"); status != 503 {
		t.Fatalf("publish with Redis down: %d, want 503", status)
	}
	time.Sleep(time.Second) // heartbeats keep the stream open meanwhile
	if err := c.redis.Restart(); err != nil {
		t.Fatal(err)
	}
	waitHTTP(t, "http://"+c.nodes[0].addr+"/readyz", 200)
	waitHTTP(t, "http://"+c.nodes[1].addr+"/readyz", 200)
	id, status, _ := publishOn(c.nodes[0].addr, "r", "3")
	if status != 200 || id <= old {
		t.Fatalf("publish after the restart: %d, id %d (old %d)", status, id, old)
	}
	waitUntil(t, "the stream to get the new event", 10*time.Second, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.ids) >= 2
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.moves != 0 || len(f.resets) != 1 || !strings.Contains(f.resets[0], fmt.Sprintf(`"reason":"buffer_gap","lastKnownId":%d}`, old)) ||
		f.ids[len(f.ids)-1] != id {
		t.Fatalf("stream after the restart: reconnects %d, resets %q, ids %v", f.moves, f.resets, f.ids)
	}
}

// TestClusterCommand runs `make cluster`'s program as a newcomer would:
// it prints curl lines; publishing with one on node 1 reaches the
// subscriber of the other on node 2; Ctrl-C stops every process.
func TestClusterCommand(t *testing.T) {
	prog := filepath.Join(t.TempDir(), "cluster")
	if out, err := exec.Command("go", "build", "-o", prog, "./deploy/cluster").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(prog, "--bin", binary, "--lb", "127.0.0.1:0")
	stdout := new(syncBuffer)
	cmd.Stdout, cmd.Stderr = stdout, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitUntil(t, "the curl lines", 30*time.Second, func() bool { return strings.Contains(stdout.String(), "Ctrl-C") })
	lines := regexp.MustCompile(`(?m)^  (curl .*?)(?: \\\n\s+(.*))?$`).FindAllStringSubmatch(stdout.String(), -1)
	if len(lines) != 3 {
		t.Fatalf("want three curl lines in:\n%s", stdout)
	}
	subLine := strings.TrimSpace(lines[0][1] + " " + lines[0][2])
	pubLine := strings.TrimSpace(lines[1][1] + " " + lines[1][2])
	sub := exec.Command("sh", "-c", "exec timeout 20 "+subLine)
	out, _ := sub.StdoutPipe()
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	defer sub.Wait()
	defer sub.Process.Kill()
	br := bufio.NewReader(out)
	if first, _ := br.ReadString('\n'); !strings.HasPrefix(first, "retry: ") {
		t.Fatalf("subscriber's first line %q", first)
	}
	waitUntil(t, "the subscriber to be counted", 10*time.Second, func() bool {
		info, _ := exec.Command("sh", "-c", strings.TrimSpace(lines[2][1])).Output()
		return strings.Contains(string(info), `"subscribers":1,`)
	})
	if pub, err := exec.Command("sh", "-c", pubLine).Output(); err != nil || !strings.Contains(string(pub), `"delivered":1`) {
		t.Fatalf("publish on node 1: %v %s", err, pub)
	}
	var seen strings.Builder
	for !strings.Contains(seen.String(), `data: {"from":"node 1"}`) {
		line, err := br.ReadString('\n')
		seen.WriteString(line)
		if err != nil {
			t.Fatalf("subscriber on node 2 saw:\n%s", seen.String())
		}
	}
	nodes := regexp.MustCompile(`nodes: +(.*)`).FindStringSubmatch(stdout.String())[1]
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("cluster exit: %v", err)
	}
	for _, addr := range strings.Split(nodes, ", ") {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Fatalf("node %s still listens after Ctrl-C", addr)
		}
	}
}
