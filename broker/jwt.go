package broker

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/workkit/realtime/httpx"
)

// Claims are the JWT claims realtime reads (SPEC 4): sub, exp (required),
// and the channel patterns the bearer may subscribe to and publish to.
type Claims struct {
	jwt.RegisteredClaims
	Channels Patterns `json:"channels,omitempty"`
	Publish  Patterns `json:"publish,omitempty"`
}

// Patterns is a list of channel patterns: an exact name, a prefix ending in
// '*', or "*". In JSON it may also be a single string.
type Patterns []string

// UnmarshalJSON accepts a string or an array of strings.
func (p *Patterns) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*p = Patterns{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("broker: channel patterns must be a string or an array of strings")
	}
	*p = many
	return nil
}

// Match reports whether channel is covered by one of the patterns.
func (p Patterns) Match(channel string) bool { return matchPatterns(p, channel) }

// MatchBytes is Match for a channel name held in a byte slice; it does not
// allocate.
func (p Patterns) MatchBytes(channel []byte) bool { return matchPatterns(p, channel) }

func matchPatterns[S ~string | ~[]byte](p Patterns, channel S) bool {
	for _, pat := range p {
		if prefix, wild := strings.CutSuffix(pat, "*"); wild {
			if len(channel) >= len(prefix) && string(channel[:len(prefix)]) == prefix {
				return true
			}
		} else if string(channel) == pat {
			return true
		}
	}
	return false
}

// JWTAuth verifies JWTs. Each algorithm has its keys, and a token is
// checked only against the keys of its alg: HS256 against the secrets (the
// current one and, during a rotation, the previous one); RS256, ES256 or
// EdDSA against the public key of --jwt-public-key (the one algorithm of
// its type) or the JWKS key its kid names, which must be of the alg's type.
// Every other alg, none included, is refused. It is the Authorizer of
// --auth jwt and checks publishers' tokens under every --auth mode but
// none. It never blocks: a token whose kid the JWKS does not hold (yet) is
// refused and a refresh of the JWKS is started in the background;
// VerifyContext may wait for it instead. Safe for concurrent use.
type JWTAuth struct {
	parser    *jwt.Parser // immutable
	secret    []byte      // immutable: the HS256 secret that signs (Sign); nil without one
	hmacKeys  any         // immutable: []byte or a jwt.VerificationKeySet of the secrets; nil: no HS256
	public    any         // immutable: the --jwt-public-key key, nil without one
	publicAlg string      // immutable: its algorithm
	jwks      *jwksKeys   // immutable: nil without --jwt-jwks-url
	cookie    string      // immutable: cookie searched for a subscriber token
	cache     *tokenCache // tokens that verified
}

// JWTOptions are the keys a JWTAuth verifies with and the claims it
// requires. At least one key must be given.
type JWTOptions struct {
	Secret         []byte          // HS256 secret; it also signs (Sign)
	PreviousSecret []byte          // HS256 secret still accepted, during a rotation
	PublicKeyFile  string          // PEM public key file: RS256, ES256 or EdDSA from its type
	JWKSURL        string          // JWKS endpoint: RS256/ES256/EdDSA keys selected by kid
	JWKSRefresh    time.Duration   // the JWKS is fetched again this often; 0: DefaultJWKSRefresh
	Issuer         string          // if set, the iss a token must carry
	Audience       []string        // if set, the aud of a token must name one of them
	Cookie         string          // cookie searched for a subscriber token
	Log            *slog.Logger    // JWKS fetch failures and key changes; nil: not logged
	Ctx            context.Context // its end stops the JWKS refreshes; nil: they run until exit
}

// NewJWTSecret returns a JWTAuth for HS256 tokens signed with secret,
// which must not be empty (anyone could sign with it).
func NewJWTSecret(secret []byte, cookie string) *JWTAuth {
	if len(secret) == 0 {
		panic("broker: NewJWTSecret: empty secret")
	}
	a, err := NewJWT(JWTOptions{Secret: secret, Cookie: cookie})
	if err != nil {
		panic(err) // cannot be: a secret alone needs nothing else
	}
	return a
}

// NewJWTPublicKey returns a JWTAuth for tokens signed by the private half of
// the PEM public key in file: RS256 for RSA, ES256 for ECDSA P-256, EdDSA
// for Ed25519.
func NewJWTPublicKey(file, cookie string) (*JWTAuth, error) {
	return NewJWT(JWTOptions{PublicKeyFile: file, Cookie: cookie})
}

// NewJWT returns a JWTAuth for o. With a JWKS it fetches the key set once
// before returning (a failure is logged, not returned: the keys come with a
// later refresh) and keeps it fresh until o.Ctx is done.
func NewJWT(o JWTOptions) (*JWTAuth, error) {
	a := &JWTAuth{cookie: o.Cookie, cache: newTokenCache(tokenCacheSize)}
	var algs []string
	if len(o.Secret) > 0 || len(o.PreviousSecret) > 0 {
		a.secret = o.Secret
		var keys []jwt.VerificationKey
		for _, s := range [][]byte{o.Secret, o.PreviousSecret} {
			if len(s) > 0 {
				keys = append(keys, s)
			}
		}
		a.hmacKeys = keys[0]
		if len(keys) > 1 {
			a.hmacKeys = jwt.VerificationKeySet{Keys: keys}
		}
		algs = append(algs, jwt.SigningMethodHS256.Alg())
	}
	switch {
	case o.PublicKeyFile != "" && o.JWKSURL != "":
		return nil, errors.New("broker: give a public key file or a JWKS URL, not both")
	case o.PublicKeyFile != "":
		key, m, err := readPublicKey(o.PublicKeyFile)
		if err != nil {
			return nil, err
		}
		a.public, a.publicAlg = key, m.Alg()
		algs = append(algs, m.Alg())
	case o.JWKSURL != "":
		k, err := newJWKSKeys(o)
		if err != nil {
			return nil, err
		}
		a.jwks = k
		algs = append(algs, jwksAlgs...)
	}
	if len(algs) == 0 {
		return nil, errors.New("broker: a JWT verifier needs a secret, a public key or a JWKS")
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(algs), jwt.WithExpirationRequired(),
		jwt.WithStrictDecoding()} // one spelling per signature: canonical base64url (SPEC 4)
	if o.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(o.Issuer))
	}
	if len(o.Audience) > 0 {
		opts = append(opts, jwt.WithAudience(o.Audience...))
	}
	a.parser = jwt.NewParser(opts...)
	return a, nil
}

// readPublicKey reads a PEM public key and the one algorithm it verifies.
func readPublicKey(file string) (any, jwt.SigningMethod, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, nil, fmt.Errorf("broker: %s: no PEM block", file)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("broker: %s: %w", file, err)
	}
	m, err := methodFor(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("broker: %s: %w", file, err)
	}
	return pub, m, nil
}

// methodFor returns the one algorithm of a public or private key: RS256 for
// RSA, ES256 for ECDSA P-256, EdDSA for Ed25519.
func methodFor(key any) (jwt.SigningMethod, error) {
	switch k := key.(type) {
	case *rsa.PublicKey, *rsa.PrivateKey:
		return jwt.SigningMethodRS256, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("only P-256 keys (ES256) are supported")
		}
		return jwt.SigningMethodES256, nil
	case *ecdsa.PrivateKey:
		return methodFor(&k.PublicKey)
	case ed25519.PublicKey, ed25519.PrivateKey:
		return jwt.SigningMethodEdDSA, nil
	}
	return nil, fmt.Errorf("unsupported key type %T", key)
}

// Authorize implements Authorizer: the token comes from the Authorization
// bearer, else the cookie, else the token query parameter. It never blocks
// (see JWTAuth).
func (a *JWTAuth) Authorize(ctx context.Context, channel string, req *httpx.Request) (string, bool, error) {
	return a.authorize(ctx, channel, req, false)
}

// authorize is Authorize; with fetch, a token whose kid the JWKS lacks
// waits for a refresh of the JWKS (bounded by ctx) instead of being refused
// at once: only off the reactor.
func (a *JWTAuth) authorize(ctx context.Context, channel string, req *httpx.Request, fetch bool) (string, bool, error) {
	tok := bearer(req)
	if tok == nil {
		tok, _ = req.Cookie(a.cookie)
	}
	if tok == nil {
		tok, _ = req.Query("token")
	}
	if len(tok) == 0 {
		return "", false, unauthenticatedf("no token")
	}
	claims, err := a.verify(ctx, tok, fetch)
	if err != nil {
		return "", false, err
	}
	g := GrantFrom(ctx)
	if claims.ExpiresAt != nil {
		g.Expires = claims.ExpiresAt.Time
	}
	if claims.IssuedAt != nil {
		g.Issued = claims.IssuedAt.Time
	}
	return claims.Subject, claims.Channels.Match(channel), nil
}

// Verify parses and checks a token: signature with a key of its alg, exp
// present and not passed, nbf reached, iss and aud as configured. Errors
// are *TokenError, which wrap ErrUnauthenticated. The claims returned are
// shared and must not be modified. It never blocks.
func (a *JWTAuth) Verify(token string) (*Claims, error) {
	return a.VerifyBytes([]byte(token))
}

// VerifyContext is Verify that, for a token whose kid the JWKS does not
// hold, waits (within ctx) for a refresh of the JWKS — at most one every
// 5 s — and tries again. It may block on HTTP: never call it on the
// reactor.
func (a *JWTAuth) VerifyContext(ctx context.Context, token string) (*Claims, error) {
	return a.verify(ctx, []byte(token), true)
}

// VerifyBytes is Verify for a token held in a byte slice (a request's),
// which is not retained. A token that verified before is answered from a
// cache, after checking its time claims again and that its JWKS key is
// still in the key set: a publisher sends the same token with every
// request, and parsing and checking it costs more than the rest of a
// publish.
func (a *JWTAuth) VerifyBytes(token []byte) (*Claims, error) {
	return a.verify(nil, token, false)
}

func (a *JWTAuth) verify(ctx context.Context, token []byte, fetch bool) (*Claims, error) {
	if e, ok := a.cache.get(token); ok && e.claims.validAt(time.Now()) && (e.key == nil || a.jwks.holds(e.key)) {
		return e.claims, nil
	}
	claims, key, err := a.parse(token)
	var unknown *unknownKeyError
	if err != nil && a.jwks != nil && errors.As(err, &unknown) {
		if !fetch {
			a.jwks.refreshSoon(unknown.kid)
			return nil, err
		}
		if werr := a.jwks.awaitRefresh(ctx, unknown.kid); werr != nil {
			return nil, werr // not in time: not a verdict on the token (503)
		}
		claims, key, err = a.parse(token)
	}
	if err != nil {
		return nil, err
	}
	a.cache.put(token, tokenEntry{claims: claims, key: key})
	return claims, nil
}

// parse verifies a token with the keys of its alg. key is the JWKS key
// that verified it, nil for a secret or the public key file.
func (a *JWTAuth) parse(token []byte) (*Claims, *jwksKey, error) {
	claims := new(Claims)
	var used *jwksKey
	t, err := a.parser.ParseWithClaims(string(token), claims, func(t *jwt.Token) (any, error) { return a.keyFor(t, &used) })
	if err != nil {
		return nil, nil, refusal(t, err)
	}
	return claims, used, nil
}

// keyFor is the jwt.Keyfunc: the keys of the token's alg (the parser let
// through only the algs some key is for).
func (a *JWTAuth) keyFor(t *jwt.Token, used **jwksKey) (any, error) {
	alg := t.Method.Alg()
	switch {
	case alg == jwt.SigningMethodHS256.Alg():
		if a.hmacKeys == nil {
			return nil, fmt.Errorf("%w: no secret configured for HS256", errAlgNotAllowed)
		}
		return a.hmacKeys, nil
	case a.public != nil:
		if alg != a.publicAlg {
			return nil, fmt.Errorf("%w: %s does not fit the %s public key", errAlgNotAllowed, alg, a.publicAlg)
		}
		return a.public, nil
	case a.jwks != nil:
		return a.jwks.key(t, used)
	}
	return nil, fmt.Errorf("%w: %s", errAlgNotAllowed, alg)
}

// fits checks that key is of the type alg verifies with.
func fits(alg string, key any) error {
	m, err := methodFor(key)
	if err != nil {
		return fmt.Errorf("%w: %v", errAlgNotAllowed, err)
	}
	if m.Alg() != alg {
		return fmt.Errorf("%w: %s does not fit a %s key", errAlgNotAllowed, alg, m.Alg())
	}
	return nil
}

// Why a token is refused, besides what golang-jwt reports.
var (
	errAlgNotAllowed = errors.New("alg not allowed")
	errNoKID         = errors.New("no kid: a JWKS key is selected by the kid header")
	errKeyUnusable   = errors.New("key unusable")
)

// unknownKeyError is a token whose kid names no key of the JWKS.
type unknownKeyError struct{ kid string }

func (e *unknownKeyError) Error() string { return fmt.Sprintf("kid %q is not in the JWKS", e.kid) }

// TokenError is a refused token: Reason says why in a few words ("bad
// signature", "expired", "not yet valid", "wrong issuer", "wrong
// audience", "unknown key", "no kid", "key unusable", "malformed", "alg
// not allowed", "missing claim", "invalid claims"); Err has the details. It wraps
// ErrUnauthenticated and Err.
type TokenError struct {
	Reason string
	Err    error
}

func (e *TokenError) Error() string   { return e.Reason + ": " + e.Err.Error() }
func (e *TokenError) Unwrap() []error { return []error{ErrUnauthenticated, e.Err} }

// refusal classifies an error of the parser (t is what it parsed, maybe
// nil).
func refusal(t *jwt.Token, err error) *TokenError {
	var unknown *unknownKeyError
	reason := "invalid token"
	switch {
	case errors.As(err, &unknown):
		reason = "unknown key"
	case errors.Is(err, errNoKID):
		reason = "no kid"
	case errors.Is(err, errAlgNotAllowed):
		reason = "alg not allowed"
	case errors.Is(err, errKeyUnusable):
		reason = "key unusable"
	case errors.Is(err, jwt.ErrTokenMalformed):
		reason = "malformed"
	case errors.Is(err, jwt.ErrTokenUnverifiable) && (t == nil || t.Method == nil):
		reason = "alg not allowed" // an alg golang-jwt does not know
	case errors.Is(err, jwt.ErrTokenSignatureInvalid) && t != nil && t.Method != nil && strings.Contains(err.Error(), "signing method "+t.Method.Alg()+" is invalid"):
		reason = "alg not allowed" // not one of the algs some key is for; none included
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		reason = "bad signature"
	case errors.Is(err, jwt.ErrTokenExpired):
		reason = "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		reason = "not yet valid"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		reason = "wrong issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		reason = "wrong audience"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		reason = "missing claim"
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		reason = "invalid claims"
	}
	return &TokenError{Reason: reason, Err: err}
}

// validAt reports whether the time claims hold at now: exp (required)
// not passed, nbf (if any) reached.
func (c *Claims) validAt(now time.Time) bool {
	if c.ExpiresAt == nil || !now.Before(c.ExpiresAt.Time) {
		return false
	}
	return c.NotBefore == nil || !now.Before(c.NotBefore.Time)
}

// Sign returns an HS256 token for claims. Only a JWTAuth with a secret can
// sign; one built from a public key or a JWKS returns an error.
func (a *JWTAuth) Sign(claims *Claims) (string, error) {
	if len(a.secret) == 0 {
		return "", errors.New("broker: cannot sign tokens without a secret")
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(a.secret)
}

// SignWith returns a token for claims signed with key: a secret ([]byte,
// HS256) or a private key (RS256 for RSA, ES256 for ECDSA P-256, EdDSA for
// Ed25519). A kid, if not empty, goes into the header (it selects the key
// of a JWKS).
func SignWith(key any, kid string, claims *Claims) (string, error) {
	var m jwt.SigningMethod = jwt.SigningMethodHS256
	if _, secret := key.([]byte); !secret {
		var err error
		if m, err = methodFor(key); err != nil {
			return "", fmt.Errorf("broker: %w", err)
		}
		if _, public := key.(crypto.Signer); !public {
			return "", errors.New("broker: signing needs a private key")
		}
	}
	t := jwt.NewWithClaims(m, claims)
	if kid != "" {
		t.Header["kid"] = kid
	}
	return t.SignedString(key)
}

// ReadPrivateKey reads a PKCS#8 PEM private key (RSA, ECDSA P-256 or
// Ed25519) for SignWith.
func ReadPrivateKey(file string) (any, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", file)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: not a PKCS#8 private key: %w", file, err)
	}
	if _, err := methodFor(key); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return key, nil
}

// NewClaims returns claims for sub, valid for ttl from now.
func NewClaims(sub string, channels, publish []string, ttl time.Duration) *Claims {
	now := time.Now()
	return &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   sub,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Channels: channels,
		Publish:  publish,
	}
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
// The slice aliases the request.
func bearer(req *httpx.Request) []byte {
	v := req.Header("Authorization")
	if len(v) < 7 || !bytes.EqualFold(v[:7], []byte("bearer ")) {
		return nil
	}
	return bytes.TrimSpace(v[7:])
}
