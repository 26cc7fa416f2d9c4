package broker_test

import (
	"bufio"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/workkit/realtime/broker"
)

// idp plays an identity provider's JWKS endpoint: it serves the public
// halves of the keys it holds, and can be made slow or down.
type idp struct {
	*httptest.Server
	mu      sync.Mutex
	keys    map[string]crypto.Signer // kid -> private key
	order   []string
	fetches atomic.Int32
	down    atomic.Bool
	delay   atomic.Int64 // ns each answer waits
}

func newIDP(t testing.TB) *idp {
	p := &idp{keys: map[string]crypto.Signer{}}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		time.Sleep(time.Duration(p.delay.Load()))
		if p.down.Load() {
			http.Error(w, "down", 503)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(p.jwks())
	}))
	t.Cleanup(p.Close)
	return p
}

// add puts a key under kid into the set.
func (p *idp) add(kid string, key crypto.Signer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.keys[kid]; !ok {
		p.order = append(p.order, kid)
	}
	p.keys[kid] = key
}

// remove takes kid out of the set.
func (p *idp) remove(kid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.keys, kid)
	for i, k := range p.order {
		if k == kid {
			p.order = append(p.order[:i], p.order[i+1:]...)
			break
		}
	}
}

func (p *idp) jwks() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	var keys []map[string]string
	for _, kid := range p.order {
		keys = append(keys, jwk(kid, p.keys[kid].Public()))
	}
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

var b64 = base64.RawURLEncoding.EncodeToString

// jwk renders a public key as a JWK (RFC 7517/7518/8037).
func jwk(kid string, pub crypto.PublicKey) map[string]string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
			"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		e, _ := k.ECDH()
		raw := e.Bytes() // 0x04 || X || Y
		n := (len(raw) - 1) / 2
		return map[string]string{"kty": "EC", "kid": kid, "crv": k.Curve.Params().Name, "x": b64(raw[1 : 1+n]), "y": b64(raw[1+n:])}
	case ed25519.PublicKey:
		return map[string]string{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(k)}
	}
	panic(fmt.Sprintf("jwk: %T", pub))
}

// Test keys, made once: RSA keys are slow to generate.
var (
	keysOnce              sync.Once
	rsaKey, rsaKey2       *rsa.PrivateKey
	ecKey, ecKey2         *ecdsa.PrivateKey
	edKey                 ed25519.PrivateKey
	ecP384                *ecdsa.PrivateKey
	generatedKeysForTests = func() {
		rsaKey, _ = rsa.GenerateKey(rand.Reader, 2048)
		rsaKey2, _ = rsa.GenerateKey(rand.Reader, 2048)
		ecKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ecKey2, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ecP384, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		_, edKey, _ = ed25519.GenerateKey(rand.Reader)
	}
)

func testKeys() { keysOnce.Do(generatedKeysForTests) }

// signed returns a token signed with key under kid.
func signed(t testing.TB, key any, kid string, channels, publish []string, ttl time.Duration) string {
	t.Helper()
	tok, err := broker.SignWith(key, kid, broker.NewClaims("idp-user", channels, publish, ttl))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func subWith(t testing.TB, key any, kid string) string {
	return signed(t, key, kid, []string{"*"}, nil, time.Hour)
}

func pubWith(t testing.TB, key any, kid string) string {
	return signed(t, key, kid, nil, []string{"*"}, time.Hour)
}

// jwksServer starts a server that verifies tokens with p's keys (and the
// test secret), refreshing them every refresh.
// It runs one node whatever the suite's topology: each node has its own
// copy of the key set.
func jwksServer(t *testing.T, p *idp, refresh time.Duration, mutate func(*broker.Config)) *server {
	return startServerOn(t, topologies["memory"], func(c *broker.Config) {
		c.JWTJWKSURL = p.URL + "/.well-known/jwks.json"
		c.JWTJWKSRefresh = refresh
		if mutate != nil {
			mutate(c)
		}
	})
}

// status subscribes to c with tok and returns the answer's status.
func (s *server) status(tok string) int {
	s.t.Helper()
	st, r := s.trySubscribe("c", bearerHeader(tok))
	if st != nil {
		st.c.Close()
	}
	return r.status
}

// pubStatus publishes on c with tok and returns the status.
func (s *server) pubStatus(tok string) int {
	s.t.Helper()
	return s.do(post("/publish/c", `{"event":"e","data":1}`, bearerHeader(tok))).status
}

// eventually polls f until it is true, for at most d.
func eventually(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestJWKSKeyRotation: a token with a new kid is accepted without a
// restart (the JWKS is fetched again for it, off the reactor), and a token
// whose key left the set is refused after that refresh, also when it had
// been accepted (and cached) before — for subscribers and publishers.
func TestJWKSKeyRotation(t *testing.T) {
	testKeys()
	p := newIDP(t)
	p.add("k1", rsaKey)
	s := jwksServer(t, p, time.Hour, nil) // no periodic refresh in this test
	old, oldPub := subWith(t, rsaKey, "k1"), pubWith(t, rsaKey, "k1")
	if st := s.status(old); st != 200 {
		t.Fatalf("subscriber with k1: %d", st)
	}
	if st := s.pubStatus(oldPub); st != 200 {
		t.Fatalf("publisher with k1: %d", st)
	}
	// The IdP rotates: k2 in, k1 out.
	p.add("k2", ecKey)
	p.remove("k1")
	if st := s.status(subWith(t, ecKey, "k2")); st != 200 {
		t.Fatalf("subscriber with the new kid k2: %d, want 200 at once (refresh on an unknown kid)", st)
	}
	if st := s.status(old); st != 401 {
		t.Fatalf("cached subscriber token of the removed k1: %d, want 401", st)
	}
	if st := s.pubStatus(oldPub); st != 401 {
		t.Fatalf("cached publisher token of the removed k1: %d, want 401", st)
	}
	if st := s.status(subWith(t, rsaKey, "k1")); st != 401 {
		t.Fatalf("fresh token of the removed k1: %d, want 401", st)
	}
	// A multiplexed stream (authorized off the reactor) with the new set.
	st, r := s.openStream(muxPath("/sse", []string{"a", "b"}), bearerHeader(subWith(t, ecKey, "k2")))
	if st == nil {
		t.Fatalf("multiplexed stream with k2: %d %s", r.status, r.body)
	}
	if _, r := s.openStream(muxPath("/sse", []string{"a", "b"}), bearerHeader(old)); r.status != 401 {
		t.Fatalf("multiplexed stream with the removed k1: %d, want 401", r.status)
	}
}

// TestJWKSNewKidOnAMultiplexedStream: a multiplexed request is authorized
// off the reactor, where a new kid is fetched for.
func TestJWKSNewKidOnAMultiplexedStream(t *testing.T) {
	testKeys()
	p := newIDP(t)
	p.add("k1", rsaKey)
	s := jwksServer(t, p, time.Hour, nil)
	p.add("k3", edKey)
	if st, r := s.openStream(muxPath("/sse", []string{"a", "b"}), bearerHeader(subWith(t, edKey, "k3"))); st == nil {
		t.Fatalf("multiplexed stream with the new kid k3: %d %s", r.status, r.body)
	}
}

// TestJWKSPublisherWithUnknownKid: a publisher's token is verified on the
// reactor, which never fetches: an unknown kid is 401 while a refresh runs
// in the background, then accepted.
func TestJWKSPublisherWithUnknownKid(t *testing.T) {
	testKeys()
	p := newIDP(t)
	p.add("k1", rsaKey)
	s := jwksServer(t, p, time.Hour, nil)
	p.add("k2", edKey)
	tok := pubWith(t, edKey, "k2")
	if st := s.pubStatus(tok); st != 401 {
		t.Fatalf("publisher with a kid not fetched yet: %d, want 401", st)
	}
	eventually(t, 7*time.Second, "the publisher's new kid accepted after the background refresh", func() bool {
		return s.pubStatus(tok) == 200
	})
}

// TestJWKSPeriodicRefresh: keys are fetched again every --jwt-jwks-refresh:
// a removed key stops its tokens (cached ones too) without any unknown kid.
func TestJWKSPeriodicRefresh(t *testing.T) {
	testKeys()
	p := newIDP(t)
	p.add("k1", ecKey)
	p.add("k2", ecKey2)
	s := jwksServer(t, p, 200*time.Millisecond, nil)
	tok, pub := subWith(t, ecKey, "k1"), pubWith(t, ecKey, "k1")
	if st := s.status(tok); st != 200 {
		t.Fatalf("k1: %d", st)
	}
	if st := s.pubStatus(pub); st != 200 {
		t.Fatalf("publisher k1: %d", st)
	}
	p.remove("k1")
	eventually(t, 5*time.Second, "the cached token of removed k1 refused", func() bool { return s.status(tok) == 401 })
	if st := s.pubStatus(pub); st != 401 {
		t.Fatalf("cached publisher token of removed k1: %d, want 401", st)
	}
	if st := s.status(subWith(t, ecKey2, "k2")); st != 200 {
		t.Fatalf("k2, still in the set: %d", st)
	}
}

// TestJWKSEndpointDown: a failing JWKS endpoint keeps the last good keys;
// a new kid stays refused.
func TestJWKSEndpointDown(t *testing.T) {
	testKeys()
	p := newIDP(t)
	p.add("k1", edKey)
	s := jwksServer(t, p, 100*time.Millisecond, nil)
	cached := subWith(t, edKey, "k1")
	if st := s.status(cached); st != 200 {
		t.Fatalf("k1: %d", st)
	}
	p.down.Store(true)
	p.add("k2", ecKey) // the IdP has it, but cannot serve it
	n := p.fetches.Load()
	eventually(t, 5*time.Second, "refreshes tried while down", func() bool { return p.fetches.Load() >= n+3 })
	if st := s.status(cached); st != 200 {
		t.Fatalf("cached k1 token while the JWKS is down: %d, want 200", st)
	}
	if st := s.status(signed(t, edKey, "k1", []string{"*"}, nil, 2*time.Hour)); st != 200 {
		t.Fatalf("fresh k1 token while the JWKS is down: %d, want 200 (last keys kept)", st)
	}
	if st := s.pubStatus(pubWith(t, edKey, "k1")); st != 200 {
		t.Fatalf("k1 publisher while the JWKS is down: %d", st)
	}
	for i := 0; i < 2; i++ {
		if st := s.status(subWith(t, ecKey, "k2")); st != 401 {
			t.Fatalf("new kid while the JWKS is down (try %d): %d, want 401", i, st)
		}
	}
	p.down.Store(false)
	eventually(t, 5*time.Second, "k2 accepted once the JWKS is back", func() bool { return s.status(subWith(t, ecKey, "k2")) == 200 })
}

// TestJWKSAlgorithms: each key verifies only its algorithm; an alg that
// does not fit the key's type, none, HS256 with a public key as its
// secret, a token without kid and an unsupported curve are refused; the
// secret still verifies HS256 next to the JWKS.
func TestJWKSAlgorithms(t *testing.T) {
	testKeys()
	p := newIDP(t)
	p.add("rsa", rsaKey)
	p.add("ec", ecKey)
	p.add("ed", edKey)
	p.add("p384", ecP384)
	s := jwksServer(t, p, time.Hour, nil)
	for _, c := range []struct {
		name string
		key  any
		kid  string
	}{{"RS256", rsaKey, "rsa"}, {"ES256", ecKey, "ec"}, {"EdDSA", edKey, "ed"}} {
		if st := s.status(subWith(t, c.key, c.kid)); st != 200 {
			t.Fatalf("%s with its key: %d", c.name, st)
		}
	}
	pubPEM, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, broker.NewClaims("x", []string{"*"}, nil, time.Hour)).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	noneKid := jwt.NewWithClaims(jwt.SigningMethodNone, broker.NewClaims("x", []string{"*"}, nil, time.Hour))
	noneKid.Header["kid"] = "rsa"
	noneWithKid, _ := noneKid.SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs512 := jwt.NewWithClaims(jwt.SigningMethodHS512, broker.NewClaims("x", []string{"*"}, nil, time.Hour))
	hs512Tok, _ := hs512.SignedString([]byte(testSecret))
	for name, tok := range map[string]string{
		"RS256 under the kid of an EC key":    subWith(t, rsaKey, "ec"),
		"ES256 under the kid of an RSA key":   subWith(t, ecKey, "rsa"),
		"EdDSA under the kid of an EC key":    subWith(t, edKey, "ec"),
		"RS256 by another RSA key":            subWith(t, rsaKey2, "rsa"),
		"a P-384 key (ES384 is not accepted)": p384Token(t),
		"no kid":                              subWith(t, rsaKey, ""),
		"alg none":                            none,
		"alg none with a kid":                 noneWithKid,
		"HS256 keyed by the RSA public key":   signed(t, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubPEM}), "rsa", []string{"*"}, nil, time.Hour),
		"HS512 with the secret":               hs512Tok,
	} {
		if st := s.status(tok); st != 401 {
			t.Errorf("%s: %d, want 401", name, st)
		}
	}
	if st := s.status(subToken(t)); st != 200 {
		t.Fatalf("HS256 with the secret next to the JWKS: %d", st)
	}
}

// p384Token is an ES384 token under the kid of a P-384 key.
func p384Token(t *testing.T) string {
	tk := jwt.NewWithClaims(jwt.SigningMethodES384, broker.NewClaims("x", []string{"*"}, nil, time.Hour))
	tk.Header["kid"] = "p384"
	tok, err := tk.SignedString(ecP384)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestJWTIssuerAndAudience: with --jwt-issuer and --jwt-audience, a token
// with a missing or different iss or aud is 401, for subscribers and
// publishers; aud may be a string or an array.
func TestJWTIssuerAndAudience(t *testing.T) {
	s := startServer(t, func(c *broker.Config) {
		c.JWTIssuer = "https://idp.example"
		c.JWTAudience = []string{"realtime", "realtime-staging"}
	})
	mk := func(claims jwt.MapClaims) string {
		claims["exp"] = time.Now().Add(time.Hour).Unix()
		claims["channels"] = "*"
		claims["publish"] = "*"
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	const iss = "https://idp.example"
	for _, c := range []struct {
		name   string
		claims jwt.MapClaims
		want   int
	}{
		{"aud a string", jwt.MapClaims{"iss": iss, "aud": "realtime"}, 200},
		{"aud an array naming it", jwt.MapClaims{"iss": iss, "aud": []string{"other", "realtime-staging"}}, 200},
		{"aud another string", jwt.MapClaims{"iss": iss, "aud": "other"}, 401},
		{"aud an array without it", jwt.MapClaims{"iss": iss, "aud": []string{"a", "b"}}, 401},
		{"aud missing", jwt.MapClaims{"iss": iss}, 401},
		{"aud empty", jwt.MapClaims{"iss": iss, "aud": ""}, 401},
		{"iss another", jwt.MapClaims{"iss": "https://evil.example", "aud": "realtime"}, 401},
		{"iss missing", jwt.MapClaims{"aud": "realtime"}, 401},
	} {
		tok := mk(c.claims)
		if st := s.status(tok); st != c.want {
			t.Errorf("subscriber, %s: %d, want %d", c.name, st, c.want)
		}
		if st := s.pubStatus(tok); st != c.want {
			t.Errorf("publisher, %s: %d, want %d", c.name, st, c.want)
		}
	}
}

// TestJWTPreviousSecret: during a rotation, a token signed with the
// previous secret is accepted — subscriber and publisher — only when
// --jwt-secret-previous names it.
func TestJWTPreviousSecret(t *testing.T) {
	const previous = "the-previous-secret-0123456789"
	oldSub := signed(t, []byte(previous), "", []string{"*"}, nil, time.Hour)
	oldPub := signed(t, []byte(previous), "", nil, []string{"*"}, time.Hour)
	rotating := startServer(t, func(c *broker.Config) { c.JWTSecretPrevious = previous })
	if st := rotating.status(oldSub); st != 200 {
		t.Fatalf("subscriber with the previous secret: %d", st)
	}
	if st := rotating.pubStatus(oldPub); st != 200 {
		t.Fatalf("publisher with the previous secret: %d", st)
	}
	if st := rotating.status(subToken(t)); st != 200 {
		t.Fatalf("subscriber with the current secret: %d", st)
	}
	if st := rotating.pubStatus(pubToken(t)); st != 200 {
		t.Fatalf("publisher with the current secret: %d", st)
	}
	rotated := startServer(t, nil)
	if st := rotated.status(oldSub); st != 401 {
		t.Fatalf("subscriber with an old secret not configured: %d, want 401", st)
	}
	if st := rotated.pubStatus(oldPub); st != 401 {
		t.Fatalf("publisher with an old secret not configured: %d, want 401", st)
	}
}

// TestJWKSUnknownKidNeverBlocksTheReactor: while subscribes with an unknown
// kid wait for a slow JWKS endpoint, other requests — publishes, and
// subscribes whose key is known — are served; the waiting subscribes share
// one fetch and are allowed when it brings their key.
func TestJWKSUnknownKidNeverBlocksTheReactor(t *testing.T) {
	testKeys()
	p := newIDP(t)
	p.add("k1", ecKey)
	s := startServerOn(t, topologies["memory"], func(c *broker.Config) { // one node: one JWKS cache to count fetches of
		c.JWTJWKSURL = p.URL
		c.JWTJWKSRefresh = time.Hour
		c.AuthTimeout = 5 * time.Second
	})
	before := p.fetches.Load()
	p.delay.Store(int64(1500 * time.Millisecond))
	p.add("k2", edKey)
	newTok := subWith(t, edKey, "k2")
	slow := make(chan int, 8)
	for i := 0; i < 8; i++ {
		go func() {
			c := s.dial()
			defer c.Close()
			io.WriteString(c, get("/sse/slow", bearerHeader(newTok)))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				slow <- 0
				return
			}
			slow <- resp.StatusCode
		}()
	}
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	known := subWith(t, ecKey, "k1")
	for i := 0; i < 20; i++ {
		s.publish("busy", "e", "1")
		if i%5 == 0 {
			if st := s.status(known); st != 200 {
				t.Fatalf("subscriber with a known kid during the slow fetch: %d", st)
			}
		}
		select {
		case st := <-slow:
			t.Fatalf("a subscribe waiting for the JWKS finished (%d) before the other requests: they were blocked", st)
		default:
		}
	}
	if took := time.Since(start); took > 1200*time.Millisecond {
		t.Fatalf("20 publishes took %v while the JWKS was slow", took)
	}
	for i := 0; i < 8; i++ {
		if st := <-slow; st != 200 {
			t.Fatalf("subscribe with the new kid after the slow fetch: %d", st)
		}
	}
	if n := p.fetches.Load() - before; n != 1 {
		t.Fatalf("%d JWKS fetches for 8 subscribes with the same unknown kid, want 1", n)
	}
}

// TestJWKSRefreshesAreRateLimited: unknown kids fetch the JWKS at most once
// per 5 s; a subscribe whose kid is unknown just after a fetch is refused
// at once rather than waiting past its deadline.
func TestJWKSRefreshesAreRateLimited(t *testing.T) {
	testKeys()
	p := newIDP(t)
	p.add("k1", ecKey)
	s := startServerOn(t, topologies["memory"], func(c *broker.Config) {
		c.JWTJWKSURL = p.URL
		c.JWTJWKSRefresh = time.Hour
	})
	before := p.fetches.Load()
	for i := 0; i < 10; i++ {
		start := time.Now()
		if st := s.status(subWith(t, ecKey, fmt.Sprintf("bogus-%d", i))); st != 401 {
			t.Fatalf("unknown kid %d: %d, want 401", i, st)
		}
		if took := time.Since(start); took > time.Second {
			t.Fatalf("unknown kid %d refused after %v, want at once", i, took)
		}
		if st := s.pubStatus(pubWith(t, ecKey, fmt.Sprintf("bogus-pub-%d", i))); st != 401 {
			t.Fatalf("publisher with unknown kid %d: %d, want 401", i, st)
		}
	}
	if n := p.fetches.Load() - before; n != 1 {
		t.Fatalf("%d JWKS fetches for 20 unknown kids within a second, want 1", n)
	}
}

// TestJWKSDownAtStart: the server starts while the JWKS endpoint is down;
// its tokens are refused until a fetch succeeds, then accepted.
func TestJWKSDownAtStart(t *testing.T) {
	testKeys()
	p := newIDP(t)
	p.add("k1", ecKey)
	p.down.Store(true)
	s := jwksServer(t, p, 200*time.Millisecond, nil)
	tok := subWith(t, ecKey, "k1")
	if st := s.status(tok); st != 401 {
		t.Fatalf("before any key was fetched: %d, want 401", st)
	}
	p.down.Store(false)
	eventually(t, 5*time.Second, "the token accepted once the JWKS answers", func() bool { return s.status(tok) == 200 })
}
