package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/workkit/realtime/httpx"
)

// Authorizer decides who may subscribe to (or poll) a channel. Every
// subscribe and poll passes through it (SPEC 4).
type Authorizer interface {
	// Authorize returns the principal for a subscriber of channel, or
	// ok=false to deny (403). An error wrapping ErrUnauthenticated answers
	// 401; any other error, a panic or a timeout never allows: it answers
	// 503 with Retry-After, so clients retry later instead of giving up.
	// req is valid only during the call. An authorizer may record when its
	// grant expires with GrantFrom(ctx).
	Authorize(ctx context.Context, channel string, req *httpx.Request) (principal string, ok bool, err error)
}

// ErrUnauthenticated means no credential, or an invalid or expired one:
// the client should authenticate (401), not give up (403).
var ErrUnauthenticated = errors.New("broker: missing or invalid credential")

// Grant is what an Authorizer may record about the access it granted.
type Grant struct {
	// Principal is who was allowed: the authorizer's answer.
	Principal string
	// Expires, if not zero, is when the credential expires: a stream
	// opened with it is closed by then (SPEC 4), at a jittered moment in
	// the last tenth of its lifetime (at most 30 s before it).
	Expires time.Time
	// Issued, if not zero, is when the credential was issued (a JWT's
	// iat); with Expires it gives the lifetime. Zero means now.
	Issued time.Time
}

type grantKey struct{}

// GrantFrom returns the Grant an Authorizer may fill for the current
// request, or a throwaway one when ctx carries none.
func GrantFrom(ctx context.Context) *Grant {
	if g, ok := ctx.Value(grantKey{}).(*Grant); ok {
		return g
	}
	return new(Grant)
}

// decision is the outcome of an authorization.
type decision int

const (
	allowed         decision = iota
	unauthenticated          // 401
	forbidden                // 403
	unavailable              // 503: the authorizer failed, timed out or is at capacity
)

// allowAll is the authorizer of --auth none.
type allowAll struct{}

func (allowAll) Authorize(context.Context, string, *httpx.Request) (string, bool, error) {
	return "anonymous", true, nil
}

// unauthenticatedf wraps ErrUnauthenticated with a reason.
func unauthenticatedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnauthenticated, fmt.Sprintf(format, args...))
}
