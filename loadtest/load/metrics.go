package load

import (
	"bytes"
	"errors"
	"strconv"
	"time"
)

// Metrics fetches the Prometheus text of a realtime admin listener's
// /metrics and returns every sample's value by metric name; the series of
// a labelled metric (realtime_resets_total{reason=...}) are summed.
func Metrics(admin string) (map[string]float64, error) {
	b, err := adminGet(admin, "/metrics", 10*time.Second)
	if err != nil {
		return nil, err
	}
	return ParseMetrics(b), nil
}

// ParseMetrics reads the Prometheus text exposition format: "# ..." lines
// are skipped, a sample is `name[{labels}] value [timestamp]`. Lines it
// cannot read are ignored.
func ParseMetrics(b []byte) map[string]float64 {
	out := map[string]float64{}
	for line := range bytes.Lines(b) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		name, rest := line, []byte(nil)
		if i := bytes.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if len(rest) > 0 && rest[0] == '{' {
			j := bytes.LastIndexByte(rest, '}')
			if j < 0 {
				continue
			}
			rest = rest[j+1:]
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(string(f[0]), 64)
		if err != nil {
			continue
		}
		out[string(name)] += v
	}
	return out
}

// metricInt returns m[name] as an int, or -1 when m lacks it.
func metricInt(m map[string]float64, name string) int {
	v, ok := m[name]
	if !ok {
		return -1
	}
	return int(v)
}

// LiveHeap makes a realtime admin listener run a GC (GET
// /debug/pprof/heap?gc=1&debug=1) and returns the HeapAlloc its profile
// reports just after: the live heap, which RSS only shows once the runtime
// gives freed pages back.
func LiveHeap(admin string) (int64, error) {
	b, err := adminGet(admin, "/debug/pprof/heap?gc=1&debug=1", 30*time.Second)
	if err != nil {
		return 0, err
	}
	_, v, ok := bytes.Cut(b, []byte("\n# HeapAlloc = "))
	if !ok {
		return 0, errors.New("load: no HeapAlloc in the heap profile")
	}
	v, _, _ = bytes.Cut(v, []byte("\n"))
	return strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
}
