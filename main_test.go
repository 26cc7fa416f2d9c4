package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the real binary, as an operator would.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "realtime-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "realtime")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		panic(fmt.Sprintf("build: %v\n%s", err, out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running server process.
type proc struct {
	cmd    *exec.Cmd
	addr   string
	admin  string
	stdout *syncBuffer
	stderr *syncBuffer
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs the binary with args (plus --addr and --admin-addr) and env,
// and waits until it answers /healthz.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{addr: freeAddr(t), admin: freeAddr(t), stdout: new(syncBuffer), stderr: new(syncBuffer)}
	p.cmd = exec.Command(binary, append([]string{"--addr", p.addr, "--admin-addr", p.admin}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get("http://" + p.addr + "/healthz"); err == nil {
			resp.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start: %s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tokenFor(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(binary, append([]string{"token"}, args...)...).Output()
	if err != nil {
		t.Fatalf("token %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// sse opens a stream and returns a reader positioned after the head.
func sse(t *testing.T, addr, channel, tok string, extra ...string) (*bufio.Reader, net.Conn, int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "GET /sse/%s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n%s\r\n", channel, tok, strings.Join(extra, ""))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return br, c, resp.StatusCode
}

func TestTokenCommand(t *testing.T) {
	tok := tokenFor(t, "--jwt-secret", "s", "--sub", "u1", "--channels", "team:42:*,x", "--publish", "run:*", "--ttl", "1h")
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Sub      string   `json:"sub"`
		Exp      int64    `json:"exp"`
		Channels []string `json:"channels"`
		Publish  []string `json:"publish"`
	}
	json.Unmarshal(raw, &claims)
	if claims.Sub != "u1" || strings.Join(claims.Channels, ",") != "team:42:*,x" || strings.Join(claims.Publish, ",") != "run:*" ||
		claims.Exp < time.Now().Add(59*time.Minute).Unix() {
		t.Fatalf("claims %+v", claims)
	}
	cmd := exec.Command(binary, "token", "--sub", "u")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 2 {
		t.Fatalf("token without a secret: %v", err)
	}
}

func TestEnvironmentAndFlags(t *testing.T) {
	tok := tokenFor(t, "--jwt-secret", "s", "--channels", "*")
	env := []string{"REALTIME_JWT_SECRET=s", "REALTIME_MAX_SUBSCRIBERS_PER_CHANNEL=1"}
	p := start(t, env)
	if _, _, st := sse(t, p.addr, "c", tok); st != 200 {
		t.Fatalf("first subscriber: %d", st)
	}
	if _, _, st := sse(t, p.addr, "c", tok); st != 429 {
		t.Fatalf("second subscriber with REALTIME_MAX_SUBSCRIBERS_PER_CHANNEL=1: %d, want 429", st)
	}
	// The flag wins over the environment.
	q := start(t, env, "--max-subscribers-per-channel", "2")
	for i := 0; i < 2; i++ {
		if _, _, st := sse(t, q.addr, "c", tok); st != 200 {
			t.Fatalf("subscriber %d with the flag at 2: %d", i, st)
		}
	}
	for _, bad := range [][]string{{"--auth", "bogus"}, {"--log-format", "xml"}, {"--nope"}, {"--retry", "-1"}} {
		cmd := exec.Command(binary, bad...)
		cmd.Env = append(os.Environ(), "REALTIME_JWT_SECRET=s")
		if err := cmd.Run(); cmd.ProcessState.ExitCode() != 2 {
			t.Fatalf("%v: exit %d (%v), want 2", bad, cmd.ProcessState.ExitCode(), err)
		}
	}
	cmd := exec.Command(binary, "--addr", freeAddr(t), "--admin-addr", "")
	cmd.Env = append(os.Environ(), "REALTIME_REPLAY_BUFFER=lots")
	if cmd.Run(); cmd.ProcessState.ExitCode() != 2 {
		t.Fatalf("bad environment value: exit %d, want 2", cmd.ProcessState.ExitCode())
	}
}

// TestWelcomeCurlLines runs the curl lines printed at start-up, as a
// newcomer following README.md would, and sees the event arrive.
func TestWelcomeCurlLines(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is required (.ci/run installs it)")
	}
	p := start(t, []string{"REALTIME_JWT_SECRET="})
	welcome := p.stdout.String()
	lines := regexp.MustCompile(`(?m)^  (curl .*?)(?: \\\n\s+(.*))?$`).FindAllStringSubmatch(welcome, -1)
	if len(lines) != 2 {
		t.Fatalf("want two curl lines in:\n%s", welcome)
	}
	fix := func(m []string) string {
		line := strings.TrimSpace(m[1] + " " + m[2])
		return strings.Replace(line, "http://localhost:", "http://127.0.0.1:", 1)
	}
	subLine, pubLine := fix(lines[0]), fix(lines[1])
	if !strings.Contains(subLine, "/sse/demo") || !strings.Contains(pubLine, "/publish/demo") {
		t.Fatalf("curl lines:\n%s\n%s", subLine, pubLine)
	}
	sub := exec.Command("sh", "-c", "exec timeout 10 "+subLine)
	out, err := sub.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	defer sub.Wait()
	defer sub.Process.Kill()
	br := bufio.NewReader(out)
	if first, _ := br.ReadString('\n'); !regexp.MustCompile(`^retry: \d+\n$`).MatchString(first) { // subscribed
		t.Fatalf("subscriber's first line %q", first)
	}
	pub, err := exec.Command("sh", "-c", pubLine).Output()
	if err != nil || !strings.Contains(string(pub), `"delivered":1`) {
		t.Fatalf("publish curl: %v %s", err, pub)
	}
	var seen strings.Builder
	for !strings.Contains(seen.String(), "event: greeting\ndata: {\"hello\":\"world\"}\n\n") {
		line, err := br.ReadString('\n')
		seen.WriteString(line)
		if err != nil {
			t.Fatalf("subscriber saw:\n%s", seen.String())
		}
	}
}

func TestSIGTERMDrainsAndExitsZero(t *testing.T) {
	tok := tokenFor(t, "--jwt-secret", "s", "--channels", "*")
	p := start(t, []string{"REALTIME_JWT_SECRET=s"}, "--shutdown-timeout", "5s")
	br, _, st := sse(t, p.addr, "c", tok)
	if st != 200 {
		t.Fatalf("subscribe: %d", st)
	}
	opening := readFrame(t, br) // retry: <ms>\nid: <N>\n\n
	if !regexp.MustCompile(`^retry: \d+\nid: \d+\n\n$`).MatchString(opening) {
		t.Fatalf("first frame %q", opening)
	}
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	rest, _ := io.ReadAll(br)
	if !regexp.MustCompile(`^retry: \d+\n\n$`).Match(rest) {
		t.Fatalf("stream ended with %q, want a retry hint and EOF", rest)
	}
	err := p.cmd.Wait()
	if err != nil || p.cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("exit: %v (%s)", err, p.stderr)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("shutdown took %v, over --shutdown-timeout", took)
	}
}

func TestAdminListener(t *testing.T) {
	p := start(t, []string{"REALTIME_JWT_SECRET=s"})
	for path, want := range map[string]string{
		"/healthz":      "ok",
		"/metrics":      "realtime_connections ",
		"/debug/pprof/": "goroutine",
	} {
		resp, err := http.Get("http://" + p.admin + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("%s: %d %.200s", path, resp.StatusCode, body)
		}
	}
}

// TestFewGoroutinesForManyStreams: idle streams hold no goroutine.
func TestFewGoroutinesForManyStreams(t *testing.T) {
	const streams = 2000
	tok := tokenFor(t, "--jwt-secret", "s", "--channels", "*")
	p := start(t, []string{"REALTIME_JWT_SECRET=s"}, "--max-subscribers-per-channel", "5000")
	req := "GET /sse/many HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + tok + "\r\n\r\n"
	conns := make([]net.Conn, 0, streams)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	buf := make([]byte, 512)
	for i := 0; i < streams; i++ {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		io.WriteString(c, req)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(buf); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
	}
	resp, err := http.Get("http://" + p.admin + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	first, _ := bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close()
	var n int
	if _, err := fmt.Sscanf(first, "goroutine profile: total %d", &n); err != nil {
		t.Fatalf("profile header %q", first)
	}
	if n >= 100 {
		t.Fatalf("%d goroutines with %d idle streams, want < 100", n, streams)
	}
	t.Logf("%d goroutines with %d idle streams", n, streams)
}

// readFrame reads one SSE frame, up to and including its blank line.
func readFrame(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read frame: %v (got %q)", err, b.String())
		}
		b.WriteString(line)
		if line == "\n" {
			return b.String()
		}
	}
}

// TestSecretOffTheCommandLine: --jwt-secret-file (and REALTIME_JWT_SECRET)
// keep the secret out of /proc and /debug/pprof/cmdline, and a secret
// given as a flag anyway is redacted there.
func TestSecretOffTheCommandLine(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte("file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, nil, "--jwt-secret-file", file)
	if _, _, st := sse(t, p.addr, "c", tokenFor(t, "--jwt-secret", "file-secret", "--channels", "*")); st != 200 {
		t.Fatalf("token signed with the file's secret: %d", st)
	}
	q := start(t, nil, "--jwt-secret", "flag-secret", "--publish-key=flag-key")
	resp, err := http.Get("http://" + q.admin + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(body, []byte("flag-secret")) || bytes.Contains(body, []byte("flag-key")) || !bytes.Contains(body, []byte("[redacted]")) {
		t.Fatalf("cmdline shows %q", body)
	}
	both := exec.Command(binary, "--jwt-secret-file", file, "--addr", "127.0.0.1:0")
	both.Env = append(os.Environ(), "REALTIME_JWT_SECRET=s")
	if out, err := both.CombinedOutput(); err == nil || !strings.Contains(string(out), "not both") {
		t.Fatalf("secret given twice: %v %s", err, out)
	}
}

// TestNginxExampleLogsNoTokens: the example proxy config must not write
// ?token= query strings (credentials) to its access log.
func TestNginxExampleLogsNoTokens(t *testing.T) {
	conf, err := os.ReadFile("deploy/nginx.conf.example")
	if err != nil {
		t.Fatal(err)
	}
	var formats []string
	for _, m := range regexp.MustCompile(`(?s)log_format\s+\S+\s+(.*?);`).FindAllSubmatch(conf, -1) {
		formats = append(formats, string(m[1]))
	}
	if len(formats) == 0 || !regexp.MustCompile(`access_log\s+\S+\s+\S+`).Match(conf) {
		t.Fatal("the example should define its own log_format and use it in access_log")
	}
	for _, f := range formats {
		for _, leak := range []string{"$request ", "$request'", "$request\"", "$request_uri", "$args", "$query_string", "$arg_token"} {
			if strings.Contains(f, leak) {
				t.Fatalf("log_format logs %s: %s", leak, f)
			}
		}
	}
}
