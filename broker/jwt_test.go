package broker

import (
	"errors"
	"strings"
	"testing"
	"time"
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
		c.put([]byte{byte('a' + i)}, &Claims{})
	}
	if n := c.m.m.Size(); n > 3 {
		t.Fatalf("cache holds %d entries, bound 3", n)
	}
}
