package broker

import (
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/puzpuzpuz/xsync/v3"
)

// boundedMap is a concurrent map from strings to V that holds at most max
// entries: past that, an arbitrary entry is dropped to make room. The
// caches of verified tokens and of authorizer decisions are built on it.
// Safe for concurrent use.
type boundedMap[V any] struct {
	m    *xsync.MapOf[string, V]
	size atomic.Int64
	max  int64
}

func newBoundedMap[V any](max int) *boundedMap[V] {
	return &boundedMap[V]{m: xsync.NewMapOf[string, V](), max: int64(max)}
}

// get returns the value stored for key. key is not retained.
func (b *boundedMap[V]) get(key []byte) (V, bool) {
	return b.m.Load(unsafe.String(unsafe.SliceData(key), len(key)))
}

// put stores v for key (copied), replacing any earlier value.
func (b *boundedMap[V]) put(key []byte, v V) {
	if b.size.Add(1) > b.max {
		b.m.Range(func(k string, _ V) bool { // drop one
			b.m.Delete(k)
			return false
		})
		b.size.Add(-1)
	}
	if _, loaded := b.m.LoadAndStore(strings.Clone(string(key)), v); loaded {
		b.size.Add(-1)
	}
}
