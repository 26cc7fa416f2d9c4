// Package broker is the application: it routes requests, authorizes
// subscribers and publishers, and answers publish, subscribe, poll and
// info requests on top of the channel registry and the loop reactor.
package broker

import (
	"context"
	"crypto/rand"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/workkit/realtime/channel"
	"github.com/workkit/realtime/httpx"
	"github.com/workkit/realtime/lifecycle"
	"github.com/workkit/realtime/loop"
)

// Broker serves the HTTP interface of SPEC section 3. Create it with New,
// run it with Serve and stop it with Shutdown.
type Broker struct {
	cfg       Config         // immutable
	log       *slog.Logger   // immutable
	eng       channel.Engine // immutable
	local     bool           // immutable: eng answers every call at once (eng.Local())
	srv       *loop.Server   // immutable
	auth      Authorizer     // subscriber authorization; set before Serve
	jwt       *JWTAuth       // publisher tokens; nil under --auth none or without a key
	ephemeral bool           // the JWT secret was generated at start
	chanRE    *regexp.Regexp // nil for the default pattern (checked by table)
	authSem   chan struct{}  // slots of maxAuthCalls for blocking authorizers
	stop      chan struct{}  // closed by Shutdown: stops the channel evictor
	stopOnce  sync.Once

	streamHead []byte            // immutable: the 200 head of an event stream without CORS headers
	events     *lifecycle.Sender // channel lifecycle webhooks; nil without --events-url
	stats      brokerStats
}

// New builds a broker from a valid cfg on engine eng; nil means the
// memory engine, a channel.Registry made from cfg.Channel.
func New(cfg Config, log *slog.Logger, eng channel.Engine) (*Broker, error) {
	cfg.Loop.HeartbeatFrame = channel.Heartbeat // the reactor is told what to send
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if eng == nil {
		eng = channel.NewRegistry(cfg.Channel)
	}
	b := &Broker{cfg: cfg, log: log, eng: eng, local: eng.Local(), authSem: make(chan struct{}, maxAuthCalls),
		stop: make(chan struct{})}
	if cfg.ChannelPattern != DefaultChannelPattern {
		b.chanRE = regexp.MustCompile(cfg.ChannelPattern)
	}
	if err := b.setupAuth(); err != nil {
		return nil, err
	}
	b.streamHead = appendStreamHead(nil, nil)
	srv, err := loop.New(cfg.Loop, b)
	if err != nil {
		return nil, err
	}
	b.srv = srv
	if cfg.EventsURL != "" {
		if b.events, err = lifecycle.New(lifecycle.Config{URL: cfg.EventsURL, Secret: []byte(cfg.EventsSecret),
			MaxQueue: cfg.EventsQueue, Log: log}); err != nil {
			return nil, err
		}
		eng.Watch(b.occupancy)
		go b.events.Run(b.stop)
	}
	go b.eng.Run(b.stop)
	return b, nil
}

// setupAuth builds the authorizers of --auth and the JWT keys.
func (b *Broker) setupAuth() error {
	c := b.cfg
	o := JWTOptions{Secret: []byte(c.JWTSecret), PreviousSecret: []byte(c.JWTSecretPrevious), PublicKeyFile: c.JWTPublicKey,
		JWKSURL: c.JWTJWKSURL, JWKSRefresh: c.JWTJWKSRefresh, Issuer: c.JWTIssuer, Audience: c.JWTAudience,
		Cookie: c.JWTCookie, Log: b.log}
	if c.JWTJWKSURL != "" {
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-b.stop; cancel() }() // Shutdown ends the JWKS refreshes
		o.Ctx = ctx
	}
	if len(o.Secret) == 0 && o.PublicKeyFile == "" && o.JWKSURL == "" && c.Auth == "jwt" {
		o.Secret = make([]byte, 32)
		_, _ = rand.Read(o.Secret)
		b.ephemeral = true
	}
	if len(o.Secret) > 0 || len(o.PreviousSecret) > 0 || o.PublicKeyFile != "" || o.JWKSURL != "" {
		j, err := NewJWT(o)
		if err != nil {
			return err
		}
		b.jwt = j
	}
	switch c.Auth {
	case "none":
		b.auth = allowAll{}
	case "jwt":
		b.auth = b.jwt
		if b.jwt.jwks != nil {
			b.auth = jwksAuthorizer{b.jwt} // decided on the reactor unless a key is to be fetched
		}
	case "webhook":
		b.auth = newWebhookAuth(c.AuthURL, c.AuthTimeout)
	}
	return nil
}

// occupancy is the engine's Watch hook: a channel got its first stream or
// lost its last one (counting every node). It only queues.
func (b *Broker) occupancy(name string, occupied bool) {
	typ := lifecycle.Vacated
	if occupied {
		typ = lifecycle.Occupied
	}
	b.events.Notify(typ, name, time.Now())
}

// SetAuthorizer replaces the subscriber authorizer (for embedding). Call it
// before Serve.
func (b *Broker) SetAuthorizer(a Authorizer) { b.auth = a }

// JWT returns the JWT verifier, nil when none is configured.
func (b *Broker) JWT() *JWTAuth { return b.jwt }

// EphemeralSecret reports whether the JWT secret was generated at start
// (no secret, public key or JWKS was given).
func (b *Broker) EphemeralSecret() bool { return b.ephemeral }

// Ready reports whether the broker's engine can serve (GET /readyz).
func (b *Broker) Ready() bool { return b.eng.Ready() }

// Loop returns the reactor.
func (b *Broker) Loop() *loop.Server { return b.srv }

// Serve accepts connections on ln until Shutdown.
func (b *Broker) Serve(ln net.Listener) error { return b.srv.Serve(ln) }

// Shutdown stops accepting, sends every stream a retry hint with a jittered
// delay so clients do not reconnect at once, and closes every connection
// once its in-flight work is answered, within ctx.
func (b *Broker) Shutdown(ctx context.Context) error {
	err := b.srv.Shutdown(ctx, b.goodbye)
	b.stopOnce.Do(func() { close(b.stop) })
	return err
}

// ServeRequest implements loop.Handler: it routes one request.
func (b *Broker) ServeRequest(c *loop.Conn, req *httpx.Request) {
	if b.corsEnabled() && isMethod(req, "OPTIONS") {
		b.preflight(c, req)
		return
	}
	p := req.Path
	switch {
	case hasPrefix(p, "/sse/"):
		b.subscribe(c, req, p[len("/sse/"):])
	case string(p) == "/sse":
		b.subscribeMux(c, req)
	case string(p) == "/poll":
		b.pollMux(c, req)
	case hasPrefix(p, "/publish/"):
		b.publish(c, req, p[len("/publish/"):])
	case string(p) == "/publish":
		b.publishBatch(c, req)
	case hasPrefix(p, "/poll/"):
		b.poll(c, req, p[len("/poll/"):])
	case hasPrefix(p, "/channels/"):
		b.channels(c, req, p[len("/channels/"):])
	case string(p) == "/disconnect":
		b.disconnect(c, req)
	case string(p) == "/realtime.js":
		b.script(c, req)
	case string(p) == "/demo" || string(p) == "/":
		b.demo(c, req)
	case string(p) == "/healthz":
		b.healthz(c, req)
	case string(p) == "/readyz":
		b.readyz(c, req)
	default:
		b.replyError(c, req, 404, "not found")
	}
}

// validChannel checks a channel name against --channel-pattern.
func (b *Broker) validChannel(name []byte) bool {
	if b.chanRE == nil {
		return validName(name, 128)
	}
	return b.chanRE.Match(name)
}

func (b *Broker) healthz(c *loop.Conn, req *httpx.Request) {
	if !isMethod(req, "GET") {
		b.methodNotAllowed(c, req, "GET")
		return
	}
	b.reply(c, req, 200, "text/plain; charset=utf-8", []byte("ok\n"))
}

// parseID parses a Last-Event-ID: a non-negative decimal integer, else
// ok=false (the value is then ignored, SPEC 3.1).
func parseID(b []byte) (id uint64, ok bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	id, err := strconv.ParseUint(string(b), 10, 64)
	return id, err == nil
}

// jitter returns a duration in [d/2, 3d/2) (zero for zero).
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + time.Duration(mrand.Int64N(int64(d)))
}

func hasPrefix(b []byte, s string) bool { return len(b) >= len(s) && string(b[:len(s)]) == s }

func isMethod(req *httpx.Request, m string) bool { return string(req.Method) == m }
