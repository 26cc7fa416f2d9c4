package broker

import (
	"context"
	"errors"
	"time"

	"github.com/workkit/realtime/httpx"
	"github.com/workkit/realtime/loop"
)

// maxAuthCalls bounds the authorizations running off the reactor at once.
const maxAuthCalls = 256

// inline marks the built-in authorizers that never block: they run on the
// reactor. Any other (the webhook, or one set by an embedder) runs on a
// goroutine of its own, bounded by maxAuthCalls and --auth-timeout.
type inline interface{ inline() }

func (allowAll) inline() {}
func (*JWTAuth) inline() {}

// authorizedFunc continues a request once its authorization is decided.
// req and name stay valid during the call. deferred says the connection is
// deferred already (the authorization ran off the reactor). It reports true
// when the request is parked: whoever answers it later calls c.Resume.
type authorizedFunc func(c *loop.Conn, req *httpx.Request, name []byte, d decision, g Grant, deferred bool) (parked bool)

// cachedAuthorizer is an Authorizer that may know its answer without
// blocking (a decision it made moments ago for the same credential and
// channel): then it is used on the reactor, with no goroutine.
type cachedAuthorizer interface {
	Cached(channel string, req *httpx.Request) (principal string, g Grant, ok bool)
}

// decider is a blocking Authorizer that can decide most requests without
// blocking, allows and refusals alike (a JWT whose key is at hand): decide
// answers on the reactor, and only when it cannot (decided=false: a key to
// fetch) does Authorize run, off the reactor.
type decider interface {
	decide(channel string, req *httpx.Request) (d decision, g Grant, decided bool)
}

// authorizeThen decides whether req may read channel name and calls then:
// at once for an inline authorizer, a decider that could decide, or a
// cached decision; otherwise the reply is deferred (the connection serves
// no other request meanwhile) and then runs on another goroutine, with a
// copy of req, once the authorizer answered, failed or timed out.
func (b *Broker) authorizeThen(c *loop.Conn, req *httpx.Request, name []byte, then authorizedFunc) {
	if _, ok := b.auth.(inline); ok {
		d, g := authorize(context.Background(), b.auth, string(name), req)
		then(c, req, name, d, g, false)
		return
	}
	if dc, ok := b.auth.(decider); ok {
		if d, g, decided := dc.decide(string(name), req); decided {
			then(c, req, name, d, g, false)
			return
		}
	}
	if ca, ok := b.auth.(cachedAuthorizer); ok {
		if principal, g, hit := ca.Cached(string(name), req); hit {
			g.Principal = principal
			then(c, req, name, allowed, g, false)
			return
		}
	}
	c.Defer()
	creq := cloneRequest(req)
	cname := []byte(string(name))
	go func() {
		d, g := b.authorizeAsync(creq, string(cname))
		if !then(c, creq, cname, d, g, true) {
			c.Resume()
		}
	}()
}

// authorizeAsync runs a blocking authorizer under the concurrency bound and
// the timeout. Waiting for a slot is bounded by the timeout too; no slot in
// time is a capacity failure (503), never a deny.
func (b *Broker) authorizeAsync(req *httpx.Request, channel string) (decision, Grant) {
	wait := time.NewTimer(b.cfg.AuthTimeout)
	select {
	case b.authSem <- struct{}{}:
		wait.Stop()
	case <-wait.C:
		b.stats.authBusy.Add(1)
		return unavailable, Grant{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.AuthTimeout)
	defer cancel()
	type result struct {
		d decision
		g Grant
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-b.authSem }() // a stuck authorizer keeps its slot
		d, g := authorize(ctx, b.auth, channel, req)
		done <- result{d, g}
	}()
	select {
	case r := <-done:
		return r.d, r.g
	case <-ctx.Done():
		return unavailable, Grant{}
	}
}

// authorize runs a: a deny is 403, an unauthenticated error 401, and any
// other error or a panic 503 — never an allow.
func authorize(ctx context.Context, a Authorizer, channel string, req *httpx.Request) (d decision, g Grant) {
	defer func() {
		if recover() != nil {
			d = unavailable
		}
	}()
	ctx = context.WithValue(ctx, grantKey{}, &g)
	principal, ok, err := a.Authorize(ctx, channel, req)
	g.Principal = principal
	switch {
	case errors.Is(err, ErrUnauthenticated):
		return unauthenticated, g
	case err != nil:
		return unavailable, g
	case !ok:
		return forbidden, g
	}
	return allowed, g
}

// cloneRequest copies what an authorizer may read of req (everything but
// the body) so that it outlives the handler call.
func cloneRequest(r *httpx.Request) *httpx.Request {
	n := len(r.Method) + len(r.RawPath) + len(r.Path) + len(r.RawQuery)
	for _, h := range r.Headers {
		n += len(h.Name) + len(h.Value)
	}
	arena := make([]byte, 0, n)
	cp := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		s := len(arena)
		arena = append(arena, b...)
		return arena[s:len(arena):len(arena)]
	}
	c := &httpx.Request{
		MaxHeaderBytes: r.MaxHeaderBytes,
		MaxBodyBytes:   r.MaxBodyBytes,
		Method:         cp(r.Method),
		RawPath:        cp(r.RawPath),
		Path:           cp(r.Path),
		RawQuery:       cp(r.RawQuery),
		ProtoMinor:     r.ProtoMinor,
		ContentLength:  r.ContentLength,
		KeepAlive:      r.KeepAlive,
		Headers:        make([]httpx.Header, len(r.Headers)),
	}
	for i, h := range r.Headers {
		c.Headers[i] = httpx.Header{Name: cp(h.Name), Value: cp(h.Value)}
	}
	return c
}
