package load

import (
	"strconv"
)

// Dialect names the wire form a server speaks.
type Dialect string

const (
	// Realtime is this project's server: Bearer token, {"event","data"}
	// publish body, integer ids, realtime.reset frames.
	Realtime Dialect = "realtime"
	// Nchan is nginx+nchan (loadtest/peers): Accept: text/event-stream on
	// subscribe, body = data and X-EventSource-Event on publish, opaque
	// "time:tag" ids, no reset frames.
	Nchan Dialect = "nchan"
)

// Target is one server under test. It is plain data, sent to the workers
// as JSON; safe for concurrent use once built.
type Target struct {
	Name    string  `json:"name"`            // label in reports
	Dialect Dialect `json:"dialect"`         // wire form
	Addr    string  `json:"addr"`            // public listener, host:port
	Admin   string  `json:"admin"`           // realtime's admin listener (pprof); empty when none
	Token   string  `json:"token"`           // bearer token for subscribe and publish (realtime)
	PIDs    []int   `json:"pids"`            // processes whose CPU and RSS are the server's; may be empty
	Redis   []int   `json:"redis,omitempty"` // processes of the Redis the server runs on (--with-redis): their CPU is reported apart
}

// appendAuth appends the bearer header, if the target has a token.
func (t *Target) appendAuth(dst []byte) []byte {
	if t.Token == "" {
		return dst
	}
	dst = append(dst, "Authorization: Bearer "...)
	dst = append(dst, t.Token...)
	return append(dst, "\r\n"...)
}

// SubscribeRequest appends the GET request that opens a stream on channel,
// resuming after lastID when it is not empty.
func (t *Target) SubscribeRequest(dst []byte, channel, lastID string) []byte {
	dst = append(dst, "GET /sse/"...)
	dst = append(dst, channel...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, t.Addr...)
	dst = append(dst, "\r\nAccept: text/event-stream\r\n"...)
	dst = t.appendAuth(dst)
	if lastID != "" {
		dst = append(dst, "Last-Event-ID: "...)
		dst = append(dst, lastID...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// PublishRequest appends a keep-alive POST that publishes event with the
// JSON value data to channel.
func (t *Target) PublishRequest(dst []byte, channel, event string, data []byte) []byte {
	dst = append(dst, "POST /publish/"...)
	dst = append(dst, channel...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, t.Addr...)
	dst = append(dst, "\r\nContent-Type: application/json\r\n"...)
	dst = t.appendAuth(dst)
	n := len(data)
	if t.Dialect == Nchan {
		dst = append(dst, "Accept: application/json\r\nX-EventSource-Event: "...)
		dst = append(dst, event...)
		dst = append(dst, "\r\n"...)
	} else {
		n += len(`{"event":"","data":}`) + len(event)
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, "\r\n\r\n"...)
	if t.Dialect == Nchan {
		return append(dst, data...)
	}
	dst = append(dst, `{"event":"`...)
	dst = append(dst, event...)
	dst = append(dst, `","data":`...)
	dst = append(dst, data...)
	return append(dst, '}')
}

// BatchItem is one element of a batch publish (SPEC 3.4).
type BatchItem struct {
	Channel string
	Event   string
	Data    []byte // JSON value
}

// BatchRequest appends POST /publish with a JSON array of items (realtime
// only; SPEC 3.4).
func (t *Target) BatchRequest(dst []byte, items []BatchItem) []byte {
	var body []byte
	body = append(body, '[')
	for i, it := range items {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, `{"channel":"`...)
		body = append(body, it.Channel...)
		body = append(body, `","event":"`...)
		body = append(body, it.Event...)
		body = append(body, `","data":`...)
		body = append(body, it.Data...)
		body = append(body, '}')
	}
	body = append(body, ']')
	dst = append(dst, "POST /publish HTTP/1.1\r\nHost: "...)
	dst = append(dst, t.Addr...)
	dst = append(dst, "\r\nContent-Type: application/json\r\n"...)
	dst = t.appendAuth(dst)
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body...)
}

// IsReset reports whether a frame is realtime's gap announcement.
func IsReset(f *Frame) bool { return string(f.Event) == "realtime.reset" }
