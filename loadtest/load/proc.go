package load

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the kernel's USER_HZ: /proc/PID/stat counts CPU time in
// these (100 on every Linux this runs on).
const clockTick = 100

// Usage is the summed resource use of a server's processes.
type Usage struct {
	CPU time.Duration // utime + stime
	RSS int64         // resident bytes (VmRSS)
}

// SampleUsage reads CPU time and RSS of pids from /proc. A process that
// is gone is an error.
func SampleUsage(pids []int) (Usage, error) {
	var u Usage
	for _, pid := range pids {
		cpu, err := procCPU(pid)
		if err != nil {
			return u, err
		}
		rss, err := procRSS(pid)
		if err != nil {
			return u, err
		}
		u.CPU += cpu
		u.RSS += rss
	}
	return u, nil
}

// procCPU returns utime+stime of pid (all its threads).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesised command; utime and stime are fields
	// 14 and 15 of the whole line, 12 and 13 after the ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("load: bad /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("load: short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("load: bad /proc/%d/stat times", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// procRSS returns VmRSS of pid in bytes.
func procRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("load: no VmRSS in /proc/%d/status", pid)
}

// Children returns the PIDs whose parent is pid (nginx's workers).
func Children(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			if c, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// adminTransport serves every admin request: kept alive, and without gzip,
// so that sampling /metrics costs the server as little as it can (a gzip
// writer per scrape would show in the heap being measured).
var adminTransport = &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute}

// adminGet fetches path from a realtime admin listener.
func adminGet(admin, path string, timeout time.Duration) ([]byte, error) {
	c := http.Client{Timeout: timeout, Transport: adminTransport}
	resp, err := c.Get("http://" + admin + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = &StatusError{Status: resp.StatusCode, Body: string(b)}
	}
	return b, err
}

// Goroutines returns the server's goroutine count from the first line of
// /debug/pprof/goroutine?debug=1 ("goroutine profile: total N").
func Goroutines(admin string) (int, error) {
	b, err := adminGet(admin, "/debug/pprof/goroutine?debug=1", 10*time.Second)
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	_, n, ok := bytes.Cut(line, []byte("total "))
	if !ok {
		return 0, fmt.Errorf("load: unexpected goroutine profile %.80q", line)
	}
	return strconv.Atoi(string(bytes.TrimSpace(n)))
}

// CPUProfile collects a CPU profile of the given length from the admin
// listener (the gzipped protobuf pprof writes).
func CPUProfile(admin string, d time.Duration) ([]byte, error) {
	secs := max(1, int(d.Round(time.Second)/time.Second))
	return adminGet(admin, fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), d+30*time.Second)
}
