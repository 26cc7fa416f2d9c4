package broker

import "time"

// Allow decisions of a blocking authorizer are remembered this long, at
// most allowCacheSize of them: long enough for a crowd of clients dropped
// together to reconnect without asking the application again, short
// enough that a revoked session is refused within seconds.
const (
	allowCacheSize = 16384
	allowCacheTTL  = 5 * time.Second
)

// allowCache maps a (credentials, channel) key to a recent allow. Denials
// and failures are not cached: a client refused a moment ago and allowed
// now gets in at once. Safe for concurrent use.
type allowCache struct {
	m   *boundedMap[allowEntry]
	ttl time.Duration // immutable
}

type allowEntry struct {
	principal string
	grant     Grant
	until     time.Time // the entry's end: ttl after the decision, or the grant's expiry if sooner
}

func newAllowCache(max int, ttl time.Duration) *allowCache {
	return &allowCache{m: newBoundedMap[allowEntry](max), ttl: ttl}
}

// get returns a live entry.
func (c *allowCache) get(key []byte) (string, Grant, bool) {
	e, ok := c.m.get(key)
	if !ok || !time.Now().Before(e.until) {
		return "", Grant{}, false
	}
	return e.principal, e.grant, true
}

// put remembers an allow.
func (c *allowCache) put(key []byte, principal string, g Grant) {
	until := time.Now().Add(c.ttl)
	if !g.Expires.IsZero() && g.Expires.Before(until) {
		until = g.Expires
	}
	c.m.put(key, allowEntry{principal: principal, grant: g, until: until})
}
