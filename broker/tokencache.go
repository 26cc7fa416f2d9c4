package broker

// tokenCacheSize bounds the verified tokens remembered.
const tokenCacheSize = 4096

// tokenCache maps token strings that verified to their claims. A hit is a
// token byte-for-byte identical to one whose signature checked, so only
// the time claims need checking again — and, for a token verified with a
// JWKS key, that the key is still in the key set: a key removed from the
// JWKS stops its tokens at the next refresh, cached or not. Safe for
// concurrent use.
type tokenCache struct{ m *boundedMap[tokenEntry] }

// tokenEntry is a verified token.
type tokenEntry struct {
	claims *Claims
	key    *jwksKey // the JWKS key that verified it; nil for a secret or the public key file
}

func newTokenCache(max int) *tokenCache { return &tokenCache{m: newBoundedMap[tokenEntry](max)} }

// get returns the entry of a token that verified.
func (c *tokenCache) get(token []byte) (tokenEntry, bool) { return c.m.get(token) }

// put remembers a verified token.
func (c *tokenCache) put(token []byte, e tokenEntry) { c.m.put(token, e) }
