package broker

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/workkit/realtime/httpx"
)

func TestVerifiedTokensAreCachedSafely(t *testing.T) {
	a := NewJWTSecret([]byte("secret"), "c")
	tok, _ := a.Sign(NewClaims("u", nil, []string{"p*"}, time.Hour))
	first, err := a.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	again, err := a.Verify(tok)
	if err != nil || again != first {
		t.Fatalf("second verification not served from the cache: %v", err)
	}
	// A token differing in its signature is verified, not looked up.
	forged := tok[:len(tok)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(tok, "AA")]
	if _, err := a.Verify(forged); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("forged token: %v", err)
	}
	// A cached token stops working when it expires.
	short, _ := a.Sign(NewClaims("u", nil, nil, 1100*time.Millisecond))
	if _, err := a.Verify(short); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond)
	if _, err := a.Verify(short); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("expired cached token: %v", err)
	}
}

func TestTokenCacheIsBounded(t *testing.T) {
	c := newTokenCache(3)
	for i := 0; i < 10; i++ {
		c.put([]byte{byte('a' + i)}, tokenEntry{claims: &Claims{}})
	}
	if n := c.m.m.Size(); n > 3 {
		t.Fatalf("cache holds %d entries, bound 3", n)
	}
}

// testJWKS serves the public halves of keys (kid -> private key) as a JWKS.
func testJWKS(t testing.TB, keys map[string]crypto.Signer) *httptest.Server {
	t.Helper()
	var set jwkset.JWKSMarshal
	for kid, k := range keys {
		j, err := jwkset.NewJWKFromKey(k.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, USE: jwkset.UseSig}})
		if err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, j.Marshal())
	}
	body, _ := json.Marshal(set)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(body) }))
	t.Cleanup(srv.Close)
	return srv
}

func TestRefusalReasons(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	srv := testJWKS(t, map[string]crypto.Signer{"rsa": rsaKey, "ec": ecKey, "ed": edKey})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := NewJWT(JWTOptions{Secret: []byte("secret"), JWKSURL: srv.URL, Issuer: "iss", Audience: []string{"aud"}, Ctx: ctx})
	if err != nil {
		t.Fatal(err)
	}
	claims := func(mutate func(*Claims)) *Claims {
		c := NewClaims("u", []string{"*"}, nil, time.Hour)
		c.Issuer, c.Audience = "iss", jwt.ClaimStrings{"aud"}
		if mutate != nil {
			mutate(c)
		}
		return c
	}
	sign := func(key any, kid string, c *Claims) string {
		tok, err := SignWith(key, kid, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := sign(rsaKey, "rsa", claims(nil))
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs384, _ := jwt.NewWithClaims(jwt.SigningMethodHS384, claims(nil)).SignedString([]byte("secret"))
	for want, tok := range map[string]string{
		"bad signature":   sign([]byte("other"), "", claims(nil)),
		"expired":         sign([]byte("secret"), "", claims(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Minute)) })),
		"not yet valid":   sign(edKey, "ed", claims(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Hour)) })),
		"wrong issuer":    sign(ecKey, "ec", claims(func(c *Claims) { c.Issuer = "other" })),
		"wrong audience":  sign([]byte("secret"), "", claims(func(c *Claims) { c.Audience = jwt.ClaimStrings{"x", "y"} })),
		"missing claim":   sign([]byte("secret"), "", claims(func(c *Claims) { c.ExpiresAt = nil })),
		"unknown key":     sign(rsaKey, "nope", claims(nil)),
		"no kid":          sign(rsaKey, "", claims(nil)),
		"alg not allowed": sign(rsaKey, "ec", claims(nil)),
		"malformed":       "a.b",
	} {
		_, err := a.Verify(tok)
		var te *TokenError
		if !errors.As(err, &te) || te.Reason != want || !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("want %q, got %v", want, err)
		}
	}
	for name, tok := range map[string]string{"none": none, "HS384": hs384, "forged tail": good[:len(good)-4] + "AAAA"} {
		_, err := a.Verify(tok)
		var te *TokenError
		if !errors.As(err, &te) || (te.Reason != "alg not allowed" && name != "forged tail") || (name == "forged tail" && te.Reason != "bad signature") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := a.Verify(good); err != nil {
		t.Fatal(err)
	}
	// Without a secret, HS256 is refused whatever it is signed with.
	b, err := NewJWT(JWTOptions{JWKSURL: srv.URL, Ctx: ctx})
	if err != nil {
		t.Fatal(err)
	}
	var te *TokenError
	if _, err := b.Verify(sign([]byte("x"), "rsa", NewClaims("u", nil, nil, time.Hour))); !errors.As(err, &te) || te.Reason != "alg not allowed" {
		t.Fatalf("HS256 without a secret: %v", err)
	}
	if _, err := b.Sign(NewClaims("u", nil, nil, time.Hour)); err == nil {
		t.Fatal("a JWKS-only verifier signed a token")
	}
}

// TestUnknownKidOnTheReactorNeverFetches: Verify (what the reactor calls)
// refuses a kid it lacks at once and starts a refresh in the background;
// VerifyContext waits for it.
func TestUnknownKidOnTheReactorNeverFetches(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var serve atomic.Bool
	var fetches atomic.Int32
	one, _ := jwkset.NewJWKFromKey(ecKey.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "k"}})
	body, _ := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{one.Marshal()}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		time.Sleep(300 * time.Millisecond)
		if serve.Load() {
			w.Write(body)
		} else {
			w.Write([]byte(`{"keys":[]}`))
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := NewJWT(JWTOptions{JWKSURL: srv.URL, JWKSRefresh: time.Hour, Ctx: ctx})
	if err != nil {
		t.Fatal(err)
	}
	serve.Store(true)
	tok, _ := SignWith(ecKey, "k", NewClaims("u", nil, nil, time.Hour))
	start := time.Now()
	if _, err := a.Verify(tok); err == nil {
		t.Fatal("verified before any fetch")
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Fatalf("Verify of an unknown kid took %v: it waited for the fetch", took)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer wcancel()
	if _, err := a.VerifyContext(wctx, tok); err != nil { // joins the refresh Verify started
		t.Fatal(err)
	}
	if n := fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (start, one refresh)", n)
	}
	if a.jwks.fetches.Load() != 1 {
		t.Fatalf("%d refreshes for an unknown kid, want 1", a.jwks.fetches.Load())
	}
}

// BenchmarkJWTAuthorize measures the server CPU of authorizing a subscribe
// with a JWT, as the reactor does it: on a token seen for the first time
// (signature verified) and on one verified before (the cache); HS256 with a
// secret alone (JWTAuth, inline), and HS256, RS256, ES256 and EdDSA on a
// server with a secret and a JWKS (jwksAuthorizer.decide).
func BenchmarkJWTAuthorize(b *testing.B) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	srv := testJWKS(b, map[string]crypto.Signer{"rsa": rsaKey, "ec": ecKey, "ed": edKey})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	withJWKS, err := NewJWT(JWTOptions{Secret: secret, JWKSURL: srv.URL, Ctx: ctx})
	if err != nil {
		b.Fatal(err)
	}
	secretOnly := NewJWTSecret(secret, "")
	for _, c := range []struct {
		name string
		a    *JWTAuth
		key  any
		kid  string
	}{
		{"HS256-secret-only", secretOnly, secret, ""},
		{"HS256-with-JWKS", withJWKS, secret, ""},
		{"RS256-JWKS", withJWKS, rsaKey, "rsa"},
		{"ES256-JWKS", withJWKS, ecKey, "ec"},
		{"EdDSA-JWKS", withJWKS, edKey, "ed"},
	} {
		tok, err := SignWith(c.key, c.kid, NewClaims("user-42", []string{"team:42:*"}, nil, time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		req := &httpx.Request{Method: []byte("GET"), Path: []byte("/sse/team:42:x"),
			Headers: []httpx.Header{{Name: []byte("Host"), Value: []byte("h")}, {Name: []byte("Authorization"), Value: []byte("Bearer " + tok)}}}
		var auth func() bool
		if c.a.jwks == nil {
			auth = func() bool { d, _ := authorize(context.Background(), c.a, "team:42:x", req); return d == allowed }
		} else {
			j := jwksAuthorizer{c.a}
			auth = func() bool { d, _, decided := j.decide("team:42:x", req); return decided && d == allowed }
		}
		run := func(b *testing.B, fresh bool) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if fresh {
					c.a.cache.m.m.Clear()
					c.a.cache.m.size.Store(0)
				}
				if !auth() {
					b.Fatal("refused")
				}
			}
		}
		b.Run(c.name+"/fresh", func(b *testing.B) { run(b, true) })
		b.Run(c.name+"/cached", func(b *testing.B) { run(b, false) })
	}
	// A publisher's token, on the reactor: the cached path allocates nothing.
	pub, _ := SignWith(edKey, "ed", NewClaims("pub", nil, []string{"*"}, time.Hour))
	b.Run("publisher-EdDSA-JWKS/cached", func(b *testing.B) {
		b.ReportAllocs()
		tok := []byte(pub)
		for i := 0; i < b.N; i++ {
			if _, err := withJWKS.VerifyBytes(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
