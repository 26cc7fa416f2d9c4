package load

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP realtime_channels Live channels.
# TYPE realtime_channels gauge
realtime_channels 1.2e+06
realtime_resets_total{reason="buffer_gap"} 3
realtime_resets_total{reason="buffer_overrun"} 4
go_goroutines 12
weird{a="}"} 5 1700000000
broken
`
	m := ParseMetrics([]byte(text))
	if m["realtime_channels"] != 1.2e6 || m["realtime_resets_total"] != 7 || m["go_goroutines"] != 12 ||
		m["weird"] != 5 || len(m) != 4 {
		t.Fatalf("%v", m)
	}
	if metricInt(m, "realtime_channels") != 1_200_000 || metricInt(m, "absent") != -1 {
		t.Fatal("metricInt")
	}
}

// TestLiveHeap reads HeapAlloc from a heap profile in the text form
// /debug/pprof/heap?gc=1&debug=1 writes.
func TestLiveHeap(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/debug/pprof/heap" || r.URL.Query().Get("gc") != "1" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("heap profile: 1: 2 [3: 4] @ heap/1048576\n\n# runtime.MemStats\n# Alloc = 5\n# HeapAlloc = 3367424\n# Sys = 9\n"))
	}))
	defer srv.Close()
	n, err := LiveHeap(strings.TrimPrefix(srv.URL, "http://"))
	if err != nil || n != 3367424 {
		t.Fatalf("%d, %v", n, err)
	}
}
