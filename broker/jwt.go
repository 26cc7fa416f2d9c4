package broker

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
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

// JWTAuth verifies JWTs with one pinned algorithm: HS256 with a secret, or
// RS256/ES256/EdDSA with a public key. It is the Authorizer of --auth jwt
// and checks publishers' tokens under every --auth mode but none. Safe for
// concurrent use.
type JWTAuth struct {
	parser *jwt.Parser       // immutable
	key    any               // immutable: []byte, *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
	method jwt.SigningMethod // immutable
	cookie string            // immutable: cookie searched for a subscriber token
	cache  *tokenCache       // tokens that verified
}

// NewJWTSecret returns a JWTAuth for HS256 tokens signed with secret.
func NewJWTSecret(secret []byte, cookie string) *JWTAuth {
	return newJWTAuth(jwt.SigningMethodHS256, secret, cookie)
}

// NewJWTPublicKey returns a JWTAuth for tokens signed by the private half of
// the PEM public key in file: RS256 for RSA, ES256 for ECDSA P-256, EdDSA
// for Ed25519.
func NewJWTPublicKey(file, cookie string) (*JWTAuth, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("broker: %s: no PEM block", file)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("broker: %s: %w", file, err)
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return newJWTAuth(jwt.SigningMethodRS256, k, cookie), nil
	case *ecdsa.PublicKey:
		if k.Curve.Params().BitSize != 256 {
			return nil, fmt.Errorf("broker: %s: only P-256 keys (ES256) are supported", file)
		}
		return newJWTAuth(jwt.SigningMethodES256, k, cookie), nil
	case ed25519.PublicKey:
		return newJWTAuth(jwt.SigningMethodEdDSA, k, cookie), nil
	}
	return nil, fmt.Errorf("broker: %s: unsupported key type %T", file, pub)
}

func newJWTAuth(m jwt.SigningMethod, key any, cookie string) *JWTAuth {
	return &JWTAuth{
		parser: jwt.NewParser(jwt.WithValidMethods([]string{m.Alg()}), jwt.WithExpirationRequired(),
			jwt.WithStrictDecoding()), // one spelling per signature: canonical base64url (SPEC 4)
		key:    key,
		method: m,
		cookie: cookie,
		cache:  newTokenCache(tokenCacheSize),
	}
}

// Authorize implements Authorizer: the token comes from the Authorization
// bearer, else the cookie, else the token query parameter.
func (a *JWTAuth) Authorize(ctx context.Context, channel string, req *httpx.Request) (string, bool, error) {
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
	claims, err := a.VerifyBytes(tok)
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

// Verify parses and checks a token: signature with the pinned algorithm,
// exp present and not passed. Errors wrap ErrUnauthenticated. The claims
// returned are shared and must not be modified.
func (a *JWTAuth) Verify(token string) (*Claims, error) {
	return a.VerifyBytes([]byte(token))
}

// VerifyBytes is Verify for a token held in a byte slice (a request's),
// which is not retained. A token that verified before is answered from a
// cache, after checking its time claims again: a publisher sends the same
// token with every request, and parsing and checking it costs more than
// the rest of a publish.
func (a *JWTAuth) VerifyBytes(token []byte) (*Claims, error) {
	now := time.Now()
	if c := a.cache.get(token); c != nil && c.validAt(now) {
		return c, nil
	}
	claims := new(Claims)
	_, err := a.parser.ParseWithClaims(string(token), claims, func(*jwt.Token) (any, error) { return a.key, nil })
	if err != nil {
		return nil, unauthenticatedf("%v", err)
	}
	a.cache.put(token, claims)
	return claims, nil
}

// validAt reports whether the time claims hold at now: exp (required)
// not passed, nbf (if any) reached.
func (c *Claims) validAt(now time.Time) bool {
	if c.ExpiresAt == nil || !now.Before(c.ExpiresAt.Time) {
		return false
	}
	return c.NotBefore == nil || !now.Before(c.NotBefore.Time)
}

// Sign returns an HS256 token for claims. Only a secret-based JWTAuth can
// sign; one built from a public key returns an error.
func (a *JWTAuth) Sign(claims *Claims) (string, error) {
	secret, ok := a.key.([]byte)
	if !ok {
		return "", errors.New("broker: cannot sign tokens with a public key")
	}
	return jwt.NewWithClaims(a.method, claims).SignedString(secret)
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
