package broker

import (
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/puzpuzpuz/xsync/v3"
)

// tokenCacheSize bounds the verified tokens remembered.
const tokenCacheSize = 4096

// tokenCache maps token strings that verified to their claims. A hit is a
// token byte-for-byte identical to one whose signature checked, so only
// the time claims need checking again. Bounded: past max entries, an
// arbitrary entry is dropped. Safe for concurrent use.
type tokenCache struct {
	m    *xsync.MapOf[string, *Claims]
	size atomic.Int64
	max  int64
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{m: xsync.NewMapOf[string, *Claims](), max: int64(max)}
}

// get returns the claims of a token that verified, or nil.
func (c *tokenCache) get(token []byte) *Claims {
	claims, _ := c.m.Load(unsafe.String(unsafe.SliceData(token), len(token)))
	return claims
}

// put remembers a verified token.
func (c *tokenCache) put(token []byte, claims *Claims) {
	if c.size.Add(1) > c.max {
		c.m.Range(func(k string, _ *Claims) bool { // drop one
			c.m.Delete(k)
			return false
		})
		c.size.Add(-1)
	}
	if _, loaded := c.m.LoadOrStore(strings.Clone(string(token)), claims); loaded {
		c.size.Add(-1)
	}
}
