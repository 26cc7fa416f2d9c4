package load

import (
	"bufio"
	"strings"
	"testing"
)

func TestEventDataRoundTrip(t *testing.T) {
	b := AppendEventData(nil, 42, 1234567890123, 5)
	if string(b) != `{"seq":42,"ts":1234567890123,"p":"xxxxx"}` {
		t.Fatalf("data %s", b)
	}
	seq, ts, ok := ParseEventData(b)
	if !ok || seq != 42 || ts != 1234567890123 {
		t.Fatalf("parsed %d %d %v", seq, ts, ok)
	}
	if _, _, ok := ParseEventData([]byte(`{"reason":"buffer_gap"}`)); ok {
		t.Fatal("reset data parsed as an event")
	}
}

func TestPublishRequestDialects(t *testing.T) {
	rt := &Target{Dialect: Realtime, Addr: "h:1", Token: "T"}
	req := string(rt.PublishRequest(nil, "c", "tick", []byte(`{"seq":1}`)))
	body := `{"event":"tick","data":{"seq":1}}`
	if !strings.HasSuffix(req, "\r\n\r\n"+body) || !strings.Contains(req, "Content-Length: 33\r\n") ||
		!strings.Contains(req, "Authorization: Bearer T\r\n") || len(body) != 33 {
		t.Fatalf("realtime publish:\n%s", req)
	}
	nc := &Target{Dialect: Nchan, Addr: "h:1"}
	req = string(nc.PublishRequest(nil, "c", "tick", []byte(`{"seq":1}`)))
	if !strings.HasSuffix(req, "\r\n\r\n{\"seq\":1}") || !strings.Contains(req, "X-EventSource-Event: tick\r\n") ||
		!strings.Contains(req, "Content-Length: 9\r\n") || strings.Contains(req, "Authorization") {
		t.Fatalf("nchan publish:\n%s", req)
	}
	sub := string(nc.SubscribeRequest(nil, "c", "1:0"))
	if !strings.Contains(sub, "Accept: text/event-stream\r\n") || !strings.Contains(sub, "Last-Event-ID: 1:0\r\n") {
		t.Fatalf("nchan subscribe:\n%s", sub)
	}
}

func TestReadResponse(t *testing.T) {
	in := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" +
		"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nretry: 1\n\n"
	r := bufio.NewReader(strings.NewReader(in))
	for _, want := range []struct {
		status   int
		body     string
		headOnly bool
	}{{200, "hello", false}, {201, "abcde", false}, {200, "", true}} {
		st, body, err := ReadResponse(r, want.headOnly)
		if err != nil || st != want.status || string(body) != want.body {
			t.Fatalf("got %d %q %v, want %d %q", st, body, err, want.status, want.body)
		}
	}
	rest, _ := r.ReadString(0)
	if rest != "retry: 1\n\n" {
		t.Fatalf("stream after the head: %q", rest)
	}
}

func TestSplitAndSource(t *testing.T) {
	if got := Split(19000, 5000); len(got) != 4 || got[0]+got[1]+got[2]+got[3] != 19000 || got[0]-got[3] > 1 {
		t.Fatalf("split %v", got)
	}
	if Split(0, 10) != nil || SourceAddr(0) != "127.0.0.2" || SourceAddr(249) != "127.0.1.1" {
		t.Fatalf("split/source")
	}
}

func TestMedianAndRatio(t *testing.T) {
	if Median([]float64{3, 1, 2}) != 2 || Median([]float64{4, 1, 2, 3}) != 2.5 {
		t.Fatal("median")
	}
	a := &Result{Target: "a"}
	a.Add("x", 2, "")
	b := &Result{Target: "b"}
	b.Add("x", 4, "")
	m := MedianResult([]*Result{a, b, a})
	if m.Value("x") != 2 || ratio(1, 4) != "0.250" || ratio(1, 0) != "-" {
		t.Fatal("median result / ratio")
	}
}
