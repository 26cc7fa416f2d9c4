package load

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

func badGarbage(t *Target, _ string) string {
	b := make([]byte, 64+rand.IntN(2000))
	for i := range b {
		b[i] = byte(rand.IntN(256))
	}
	return exchange(t, append(b, "\r\n\r\n"...), 5*time.Second)
}

func badHugeHeader(t *Target, channel string) string {
	req := fmt.Sprintf("GET /sse/%s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nX-Big: %s\r\n\r\n",
		channel, strings.Repeat("a", 64<<10))
	return exchange(t, []byte(req), 5*time.Second)
}

// badHugeBody announces an 8 MiB publish body and sends 256 KiB of it.
func badHugeBody(t *Target, channel string) string {
	req := fmt.Sprintf("POST /publish/%s-junk HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s",
		channel, t.Token, 8<<20, `{"event":"big","data":"`+strings.Repeat("x", 256<<10))
	return exchange(t, []byte(req), 5*time.Second)
}

func badJSON(t *Target, channel string) string {
	bodies := []string{`{"event":"e","data":{`, `{"event":"e"}`, `not json`, `{"event":"realtime.x","data":1}`, `[1,2`}
	body := bodies[rand.IntN(len(bodies))]
	if t.Dialect == Nchan { // nchan publishes any body; keep it harmless: an empty channel
		channel += "-junk"
	}
	req := fmt.Sprintf("POST /publish/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s",
		channel, t.Token, len(body), body)
	return exchange(t, []byte(req), 5*time.Second)
}

func badChannel(t *Target, _ string) string {
	names := []string{"%00", "a%2Fb", strings.Repeat("c", 300), "%zz", "..%2F..%2Fetc"}
	req := fmt.Sprintf("GET /sse/%s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nAuthorization: Bearer %s\r\n\r\n",
		names[rand.IntN(len(names))], t.Token)
	return exchange(t, []byte(req), 5*time.Second)
}

func badNoLength(t *Target, channel string) string {
	req := fmt.Sprintf("POST /publish/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		channel+"-junk", t.Token)
	return exchange(t, []byte(req), 5*time.Second)
}

// badSlowloris sends a request head one byte every 500 ms for up to 15 s
// and reports whether and when the server cut it off.
func badSlowloris(t *Target, channel string) string {
	c, err := Dial(t.Addr, DialOptions{})
	if err != nil {
		return "dial error"
	}
	defer c.Close()
	ended := make(chan string, 1)
	go func() { ended <- answer(c) }()
	head := "GET /sse/" + channel + " HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("s", 100)
	start := time.Now()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for i := 0; time.Since(start) < 15*time.Second; i++ {
		select {
		case r := <-ended:
			return fmt.Sprintf("%s after %ds", r, int(time.Since(start).Round(time.Second).Seconds()))
		case <-tick.C:
			_, _ = c.Write([]byte{head[i%len(head)]})
		}
	}
	return "still open after 15s"
}
