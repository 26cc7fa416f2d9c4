package broker

// tokenCacheSize bounds the verified tokens remembered.
const tokenCacheSize = 4096

// tokenCache maps token strings that verified to their claims. A hit is a
// token byte-for-byte identical to one whose signature checked, so only
// the time claims need checking again. Safe for concurrent use.
type tokenCache struct{ m *boundedMap[*Claims] }

func newTokenCache(max int) *tokenCache { return &tokenCache{m: newBoundedMap[*Claims](max)} }

// get returns the claims of a token that verified, or nil.
func (c *tokenCache) get(token []byte) *Claims {
	claims, _ := c.m.get(token)
	return claims
}

// put remembers a verified token.
func (c *tokenCache) put(token []byte, claims *Claims) { c.m.put(token, claims) }
