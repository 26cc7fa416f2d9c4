package broker_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/workkit/realtime/broker"
	"github.com/workkit/realtime/client"
)

func TestBatchPublish(t *testing.T) {
	s := startServer(t, nil)
	st := s.subscribe("b1")
	s.waitSubscribers("b1", 1)
	tok := token(t, nil, []string{"b*"}, time.Hour)
	body := `[{"channel":"b1","event":"e","data":1},
	          {"channel":"b1","event":"e","data":{"x":[1, 2]}},
	          {"channel":"other","event":"e","data":1},
	          {"channel":"b1","event":"realtime.x","data":1},
	          {"channel":"b1","event":"e"},
	          {"channel":"b 1","event":"e","data":1},
	          {"event":"e","data":1},
	          7]`
	r := s.do(post("/publish", body, bearerHeader(tok)))
	if r.status != 200 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	var items []struct {
		Delivered *int   `json:"delivered"`
		ID        uint64 `json:"id"`
		Error     string `json:"error"`
	}
	mustJSON(t, r.body, &items)
	wantErr := []string{"", "", "forbidden", "event names starting with realtime. are reserved", "data must not be undefined",
		"channel is required and must be a valid channel name", "channel is required and must be a valid channel name",
		"item must be a JSON object"}
	if len(items) != len(wantErr) {
		t.Fatalf("%d results for 8 items: %s", len(items), r.body)
	}
	for i, it := range items {
		if it.Error != wantErr[i] {
			t.Fatalf("item %d: error %q, want %q (%s)", i, it.Error, wantErr[i], r.body)
		}
	}
	if *items[0].Delivered != 1 || items[1].ID != items[0].ID+1 {
		t.Fatalf("published items: %s", r.body)
	}
	if got := st.nextEvent(); got != frame(items[0].ID, "e", "1") {
		t.Fatalf("got %q", got)
	}
	if got := st.nextEvent(); got != frame(items[1].ID, "e", `{"x":[1,2]}`) {
		t.Fatalf("got %q", got)
	}

	pub := bearerHeader(pubToken(t))
	tooMany := "[" + strings.TrimSuffix(strings.Repeat(`{"channel":"b1","event":"e","data":1},`, 1001), ",") + "]"
	bad := []struct {
		req    string
		status int
	}{
		{post("/publish", `{"channel":"b1"}`, pub), 400},
		{post("/publish", `[`, pub), 400},
		{post("/publish", tooMany, pub), 400},
		{post("/publish", `[]`), 401},
		{get("/publish", pub), 405},
	}
	for _, c := range bad {
		if r := s.do(c.req); r.status != c.status {
			t.Fatalf("%.40q: %d %s, want %d", c.req, r.status, r.body, c.status)
		}
	}
	if r := s.do(post("/publish", `[]`, pub)); r.status != 200 || r.body != "[]" {
		t.Fatalf("empty batch: %d %s", r.status, r.body)
	}
}

type pollResult struct {
	Events []struct {
		ID    uint64          `json:"id"`
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	} `json:"events"`
	LastID uint64 `json:"lastId"`
}

func TestPoll(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.Channel.ReplayBuffer = 3 })
	sub := bearerHeader(subToken(t))
	var ids []uint64
	for i := 0; i < 5; i++ {
		ids = append(ids, s.publish("p", "e", fmt.Sprintf(`{"n":%d}`, i)).ID)
	}
	poll := func(query string) pollResult {
		t.Helper()
		r := s.do(get("/poll/p"+query, sub))
		if r.status != 200 {
			t.Fatalf("poll %s: %d %s", query, r.status, r.body)
		}
		var p pollResult
		mustJSON(t, r.body, &p)
		return p
	}
	p := poll(fmt.Sprintf("?lastEventId=%d", ids[3]))
	if len(p.Events) != 1 || p.Events[0].ID != ids[4] || p.Events[0].Event != "e" || string(p.Events[0].Data) != `{"n":4}` || p.LastID != ids[4] {
		t.Fatalf("replay: %+v", p)
	}
	p = poll(fmt.Sprintf("?lastEventId=%d", ids[4]))
	if len(p.Events) != 0 || p.LastID != ids[4] {
		t.Fatalf("up to date: %+v", p)
	}
	p = poll("?lastEventId=1") // a gap, then the whole buffer (SPEC 3.2)
	if len(p.Events) != 4 || p.Events[0].Event != "realtime.reset" || string(p.Events[0].Data) != `{"reason":"buffer_gap","lastKnownId":1}` ||
		p.Events[0].ID != ids[4] || p.Events[1].ID != ids[2] || p.Events[3].ID != ids[4] {
		t.Fatalf("gap: %+v", p)
	}
	p = poll(fmt.Sprintf("?lastEventId=%d", ids[0]))
	want := fmt.Sprintf(`{"reason":"buffer_overrun","lastKnownId":%d,"oldestId":%d}`, ids[0], ids[2])
	if len(p.Events) != 4 || string(p.Events[0].Data) != want || p.Events[1].ID != ids[2] || p.Events[3].ID != ids[4] {
		t.Fatalf("overrun: %+v", p)
	}
	for _, c := range []struct {
		req    string
		status int
	}{
		{get("/poll/p?wait=31", sub), 400},
		{get("/poll/p?wait=x", sub), 400},
		{get("/poll/a%20b", sub), 400},
		{get("/poll/p"), 401},
		{get("/poll/p", bearerHeader(token(t, []string{"q"}, nil, time.Hour))), 403},
		{post("/poll/p", "{}", sub), 405},
	} {
		if r := s.do(c.req); r.status != c.status {
			t.Fatalf("%.50q: %d %s, want %d", c.req, r.status, r.body, c.status)
		}
	}
}

func TestLongPoll(t *testing.T) {
	s := startServer(t, nil)
	sub := bearerHeader(subToken(t))
	last := s.publish("lp", "e", "0").ID

	// Woken by a publish, on a keep-alive connection that then serves the
	// next (pipelined) request.
	c := s.dial()
	defer c.Close()
	br := bufio.NewReader(c)
	io.WriteString(c, get(fmt.Sprintf("/poll/lp?lastEventId=%d&wait=20", last), sub)+get("/healthz"))
	time.Sleep(100 * time.Millisecond)
	p := s.publish("lp", "woke", `"up"`)
	r := readResponse(t, br)
	var res pollResult
	mustJSON(t, r.body, &res)
	if len(res.Events) != 1 || res.Events[0].ID != p.ID || res.Events[0].Event != "woke" {
		t.Fatalf("woken poll: %s", r.body)
	}
	if r := readResponse(t, br); r.status != 200 || r.body != "ok\n" {
		t.Fatalf("pipelined request after the long-poll: %d %q", r.status, r.body)
	}

	// Times out empty.
	start := time.Now()
	r = s.do(get(fmt.Sprintf("/poll/lp?lastEventId=%d&wait=1", p.ID), sub))
	mustJSON(t, r.body, &res)
	if r.status != 200 || len(res.Events) != 0 || res.LastID != p.ID || time.Since(start) < 900*time.Millisecond {
		t.Fatalf("timed-out poll after %v: %d %s", time.Since(start), r.status, r.body)
	}

	// Without lastEventId a long-poll waits for the next event.
	c2 := s.dial()
	defer c2.Close()
	io.WriteString(c2, get("/poll/lp?wait=20", sub))
	time.Sleep(100 * time.Millisecond)
	p2 := s.publish("lp", "next", "2")
	r = readResponse(t, bufio.NewReader(c2))
	mustJSON(t, r.body, &res)
	if len(res.Events) != 1 || res.Events[0].ID != p2.ID {
		t.Fatalf("poll without id: %s", r.body)
	}

	// A long-poller that goes away is dropped from the channel.
	c3 := s.dial()
	io.WriteString(c3, get("/poll/lp?wait=20", sub))
	waitFor(t, "the waiter", func() bool { return s.metric("realtime_polls_parked") == 1 })
	c3.Close()
	waitFor(t, "the waiter to leave", func() bool { return s.metric("realtime_polls_parked") == 0 })
}

func TestChannelInfo(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.Channel.ReplayBuffer = 2 })
	s.subscribe("inf")
	s.waitSubscribers("inf", 1)
	var ids []uint64
	for i := 0; i < 3; i++ {
		ids = append(ids, s.publish("inf", "e", "1").ID)
	}
	pub := bearerHeader(pubToken(t))
	r := s.do(get("/channels/inf", pub))
	want := fmt.Sprintf(`{"channel":"inf","subscribers":1,"lastId":%d,"oldestId":%d,"buffered":2}`, ids[2], ids[1])
	if r.status != 200 || r.body != want {
		t.Fatalf("info: %d %s, want %s", r.status, r.body, want)
	}
	for _, c := range []struct {
		req    string
		status int
	}{
		{get("/channels/none", pub), 404},
		{get("/channels/inf"), 401},
		{get("/channels/inf", bearerHeader(subToken(t))), 403},
		{get("/channels/a%20b", pub), 400},
		{post("/channels/inf", "{}", pub), 405},
	} {
		if r := s.do(c.req); r.status != c.status {
			t.Fatalf("%.40q: %d %s, want %d", c.req, r.status, r.body, c.status)
		}
	}
}

func TestCORS(t *testing.T) {
	s := startServer(t, func(c *broker.Config) { c.CORSOrigins = []string{"https://app.example"} })
	r := s.do("OPTIONS /sse/x HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: last-event-id, authorization\r\n\r\n")
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		r.header.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Last-Event-ID") ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight: %d %v", r.status, r.header)
	}
	if r := s.do("OPTIONS /sse/x HTTP/1.1\r\nHost: t\r\nOrigin: https://evil.example\r\n\r\n"); r.status != 403 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin: %d %v", r.status, r.header)
	}
	st := s.subscribe("x", "Origin: https://app.example\r\n")
	if st.header.Get("Access-Control-Allow-Origin") != "https://app.example" || st.header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("stream head: %v", st.header)
	}
	r = s.do(post("/publish/x", `{"event":"e","data":1}`, bearerHeader(pubToken(t)), "Origin: https://app.example\r\n"))
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("publish: %d %v", r.status, r.header)
	}
	if r := s.do(get("/sse/x", "Origin: https://app.example\r\n")); r.status != 401 || r.header.Get("Access-Control-Allow-Origin") == "" {
		t.Fatalf("errors carry CORS headers too: %d %v", r.status, r.header)
	}
	// Without --cors-origins: no headers, and OPTIONS is not allowed.
	plain := startServer(t, nil)
	if r := plain.do("OPTIONS /sse/x HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example\r\n\r\n"); r.status != 405 || r.header.Get("Allow") != "GET" {
		t.Fatalf("OPTIONS without CORS: %d %v", r.status, r.header)
	}
	if st := plain.subscribe("x", "Origin: https://app.example\r\n"); st.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("CORS header without --cors-origins")
	}
}

func TestClientScript(t *testing.T) {
	s := startServer(t, nil)
	r := s.do(get("/realtime.js"))
	if r.status != 200 || r.header.Get("Content-Type") != "text/javascript; charset=utf-8" || r.body != string(client.Script) {
		t.Fatalf("realtime.js: %d %s (%d bytes)", r.status, r.header.Get("Content-Type"), len(r.body))
	}
	etag := r.header.Get("ETag")
	if etag == "" || !strings.Contains(r.body, "export function subscribe") {
		t.Fatalf("ETag %q", etag)
	}
	if r := s.do(get("/realtime.js", "If-None-Match: "+etag+"\r\n")); r.status != 304 || r.body != "" {
		t.Fatalf("revalidation: %d %q", r.status, r.body)
	}
}
