package broker

import (
	"github.com/workkit/realtime/httpx"
	"github.com/workkit/realtime/loop"
)

// CORS (SPEC 3.7, 5): with --cors-origins set, a request whose Origin is
// in the list gets Access-Control-Allow-Origin with that origin echoed and
// credentials allowed. "*" in the list lets any other origin read without
// credentials (Access-Control-Allow-Origin: *): a page of any site may
// then read public streams, never a logged-in user's. "*" never matches
// the opaque origin "null" (sandboxed frames, file: pages), which is
// refused in the list itself. Preflights are answered 204.

// corsHeaders returns the CORS response headers for req, or nil when CORS
// is off or the origin is not allowed.
func (b *Broker) corsHeaders(req *httpx.Request) []string {
	if len(b.cfg.CORSOrigins) == 0 {
		return nil
	}
	origin := req.Header("Origin")
	if len(origin) == 0 {
		return nil
	}
	switch b.originAllowed(origin) {
	case originListed:
		return []string{
			"Access-Control-Allow-Origin", string(origin),
			"Access-Control-Allow-Credentials", "true",
			"Vary", "Origin",
		}
	case originAny:
		return []string{"Access-Control-Allow-Origin", "*"}
	}
	return nil
}

// How an origin is allowed.
const (
	originRefused = iota
	originListed  // named in --cors-origins: echoed, with credentials
	originAny     // covered by "*": without credentials
)

func (b *Broker) originAllowed(origin []byte) int {
	wildcard := false
	for _, o := range b.cfg.CORSOrigins {
		switch o {
		case string(origin):
			return originListed
		case "*":
			wildcard = true
		}
	}
	if wildcard && string(origin) != "null" {
		return originAny
	}
	return originRefused
}

// corsEnabled reports whether preflights are answered.
func (b *Broker) corsEnabled() bool { return len(b.cfg.CORSOrigins) > 0 }

// preflight answers an OPTIONS request when CORS is on: 204 with the
// allowed methods and headers (Last-Event-ID, Authorization), or 403 for an
// origin not in the list.
func (b *Broker) preflight(c *loop.Conn, req *httpx.Request) {
	cors := b.corsHeaders(req)
	if cors == nil {
		b.replyError(c, req, 403, "origin not allowed")
		return
	}
	ka := b.keepAlive(req)
	extra := append(cors,
		"Access-Control-Allow-Methods", "GET, POST, OPTIONS",
		"Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID",
		"Access-Control-Max-Age", "600",
	)
	b.replyRaw(c, ka, 204, "", nil, extra)
}
