package httpx

import "testing"

func benchmarkParse(b *testing.B, in string) {
	buf := []byte(in)
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := r.Parse(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseSSE parses a typical GET /sse/{channel} with cookies and Last-Event-ID
// and makes the lookups the SSE handler makes.
func BenchmarkParseSSE(b *testing.B) {
	buf := []byte(sseRequest)
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := r.Parse(buf); err != nil {
			b.Fatal(err)
		}
		r.Cookie("session")
		r.Query("since")
		r.Header("Last-Event-ID")
	}
}

func BenchmarkParsePublish(b *testing.B) { benchmarkParse(b, publishRequest) }

// BenchmarkParsePipelined parses three requests that arrived in one read.
func BenchmarkParsePipelined(b *testing.B) {
	buf := []byte(publishRequest + sseRequest + publishRequest)
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		for rest := buf; len(rest) > 0; {
			n, err := r.Parse(rest)
			if err != nil {
				b.Fatal(err)
			}
			rest = rest[n:]
		}
	}
}

func BenchmarkAppendResponse(b *testing.B) {
	body := []byte(`{"id":"1699999999-17","delivered":1234}`)
	out := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(AppendResponse(nil, 200, true, "application/json", body, "Cache-Control", "no-store"))))
	for b.Loop() {
		out = AppendResponse(out[:0], 200, true, "application/json", body, "Cache-Control", "no-store")
	}
}

func BenchmarkAppendError(b *testing.B) {
	out := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(AppendError(nil, 404, false, "channel \"run:42\" not found"))))
	for b.Loop() {
		out = AppendError(out[:0], 404, false, "channel \"run:42\" not found")
	}
}
