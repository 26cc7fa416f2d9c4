//go:build !race

package httpx

import "testing"

// TestHotPathAllocs proves the hot path allocation-free: a pooled Request parsing a
// publish and an SSE request, the lookups a handler makes, and the response written
// into a reused buffer.
func TestHotPathAllocs(t *testing.T) {
	publish, sse := []byte(publishRequest), []byte(sseRequest)
	var r Request
	out := make([]byte, 0, 1024)
	var failed string
	allocs := testing.AllocsPerRun(1000, func() {
		if n, err := r.Parse(publish); err != nil || n != len(publish) {
			failed = "parse publish"
		}
		if len(r.Header("authorization")) == 0 || len(r.Body) == 0 {
			failed = "publish lookups"
		}
		out = AppendResponse(out[:0], 202, r.KeepAlive, "application/json", r.Body[:10],
			"Cache-Control", "no-store", "X-Channel", "run:42")
		if n, err := r.Parse(sse); err != nil || n != len(sse) {
			failed = "parse sse"
		}
		tag, ok1 := r.Query("tag")
		since, ok2 := r.Query("since")
		sid, ok3 := r.Cookie("session")
		if !ok1 || !ok2 || !ok3 || string(tag) != "a b c" || len(since) == 0 || len(sid) == 0 ||
			len(r.Header("Last-Event-ID")) == 0 || r.HasToken("Connection", "close") || !r.KeepAlive {
			failed = "sse lookups"
		}
		out = AppendError(out[:0], 404, false, "channel \"run:42\" not found")
	})
	if failed != "" {
		t.Fatal(failed)
	}
	if allocs != 0 {
		t.Errorf("hot path allocates %v times per run", allocs)
	}
}
