package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/workkit/realtime/httpx"
)

// A JWKS (--jwt-jwks-url) is fetched, parsed and validated by jwkset, and
// its keys are handed to golang-jwt by keyfunc (kid lookup, the JWK's alg
// and use checked, a private JWK reduced to its public half): JWK parsing
// and validation for RSA, EC and OKP keys, x5c, and keeping the last good
// keys when a fetch fails are what a maintained module does better than
// code of our own. Two things are ours, because the reactor must never
// block: the key set is read without a lock (an atomic snapshot that
// jwkset replaces whole on each fetch), and the refresh on an unknown kid,
// which jwkset would do in the reader's call, runs on a goroutine of its
// own that readers either kick and leave (the reactor) or wait for with a
// deadline (off the reactor), every waiter joining the same fetch.

// DefaultJWKSRefresh is the default of --jwt-jwks-refresh.
const DefaultJWKSRefresh = 5 * time.Minute

const (
	jwksUnknownKIDGap = 5 * time.Second  // refreshes for an unknown kid start at most this often
	jwksHTTPTimeout   = 10 * time.Second // one fetch of the JWKS
	jwksMaxBytes      = 1 << 20          // a larger JWKS document fails the fetch
)

// jwksAlgs are the algorithms a JWKS key may verify, each with its key type.
var jwksAlgs = []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg(), jwt.SigningMethodEdDSA.Alg()}

// jwksKeys is the key set of one JWKS URL, kept fresh. Safe for concurrent
// use.
type jwksKeys struct {
	url     string          // immutable
	store   *jwksStore      // immutable: the keys, read without a lock
	kf      keyfunc.Keyfunc // immutable: over store, which never fetches
	client  jwkset.Storage  // immutable: store behind jwkset's HTTP client, whose reading of an unknown kid fetches the JWKS again
	gap     time.Duration   // immutable: jwksUnknownKIDGap
	timeout time.Duration   // immutable: jwksHTTPTimeout

	kick     chan string               // the refresher's requests: an unknown kid (capacity 1, sent without waiting)
	round    atomic.Pointer[jwksRound] // closed when the next refresh for an unknown kid ends
	nextAt   atomic.Int64              // Unix ns: the earliest start of the next one
	fetching atomic.Bool               // one is under way
	fetches  atomic.Int64              // refreshes for an unknown kid started (tests)
	log      *slog.Logger              // immutable
}

// jwksRound is one refresh for an unknown kid; done is closed when it ends.
type jwksRound struct{ done chan struct{} }

func newJWKSKeys(o JWTOptions) (*jwksKeys, error) {
	ctx := o.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	refresh := o.JWKSRefresh
	if refresh <= 0 {
		refresh = DefaultJWKSRefresh
	}
	k := &jwksKeys{url: o.JWKSURL, store: &jwksStore{url: o.JWKSURL, log: log}, gap: jwksUnknownKIDGap,
		timeout: jwksHTTPTimeout, kick: make(chan string, 1), log: log}
	k.store.snap.Store(&jwksSnapshot{byKid: map[string]*jwksKey{}})
	k.round.Store(&jwksRound{done: make(chan struct{})})
	client := &http.Client{Timeout: k.timeout, Transport: limitedTransport{http.DefaultTransport}}
	remote, err := jwkset.NewStorageFromHTTP(o.JWKSURL, jwkset.HTTPClientStorageOptions{
		Client:                    client,
		Ctx:                       ctx,
		HTTPTimeout:               k.timeout,
		NoErrorReturnFirstHTTPReq: true, // down at start: no keys until a refresh succeeds
		RefreshErrorHandler: func(_ context.Context, err error) {
			log.Warn("JWKS fetch failed; the keys fetched before stay in use", "url", o.JWKSURL, "err", err)
		},
		RefreshInterval: refresh,
		Storage:         k.store,
	})
	if err != nil {
		return nil, fmt.Errorf("broker: --jwt-jwks-url: %w", err)
	}
	k.client, err = jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs: map[string]jwkset.Storage{o.JWKSURL: remote},
		// The refresher goroutine spaces these refreshes; jwkset need not.
		RefreshUnknownKID: rate.NewLimiter(rate.Inf, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("broker: --jwt-jwks-url: %w", err)
	}
	k.kf, err = keyfunc.New(keyfunc.Options{Storage: k.store, UseWhitelist: []jwkset.USE{jwkset.UseSig, ""}})
	if err != nil {
		return nil, err
	}
	go k.refresher(ctx)
	return k, nil
}

// usedKey is the context key under which key records the *jwksKey read.
type usedKey struct{}

// key is the jwt.Keyfunc of a JWKS: the key the token's kid names, which
// must be of the type of the token's alg; used receives its entry. It never
// blocks.
func (k *jwksKeys) key(t *jwt.Token, used **jwksKey) (any, error) {
	kid, _ := t.Header[jwkset.HeaderKID].(string)
	if kid == "" {
		return nil, errNoKID
	}
	key, err := k.kf.KeyfuncCtx(context.WithValue(context.Background(), usedKey{}, used))(t)
	switch {
	case errors.Is(err, jwkset.ErrKeyNotFound):
		return nil, &unknownKeyError{kid: kid}
	case err != nil && strings.Contains(err.Error(), `"alg"`): // the JWK's alg is another
		return nil, fmt.Errorf("%w: %v", errAlgNotAllowed, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", errKeyUnusable, err)
	}
	if err := fits(t.Method.Alg(), key); err != nil {
		*used = nil
		return nil, err
	}
	return key, nil
}

// holds reports whether e is still the key of its kid: a token verified
// with a key since removed or replaced is verified again (and refused). It
// does not allocate.
func (k *jwksKeys) holds(e *jwksKey) bool { return k.store.snap.Load().byKid[e.kid] == e }

// refreshSoon asks for a refresh of the JWKS for an unknown kid, without
// waiting: the refresher starts one at once, or when jwksUnknownKIDGap has
// passed since the last one.
func (k *jwksKeys) refreshSoon(kid string) {
	select {
	case k.kick <- kid:
	default: // one is asked for already
	}
}

// awaitRefresh asks for a refresh for an unknown kid and waits until one
// ends, or returns at once when none can start before ctx's deadline (the
// caller then refuses the token). It returns ctx's error when ctx ends
// first. Never on the reactor.
func (k *jwksKeys) awaitRefresh(ctx context.Context, kid string) error {
	rd := k.round.Load()
	if k.store.snap.Load().byKid[kid] != nil { // a refresh ended since the caller looked
		return nil
	}
	k.refreshSoon(kid)
	next := time.Unix(0, k.nextAt.Load()) // read before fetching: see refresher
	if d, ok := ctx.Deadline(); ok && next.After(d) && !k.fetching.Load() {
		return nil
	}
	select {
	case <-rd.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// refresher serves refreshSoon until ctx is done: one fetch at a time, at
// most one every gap; the waiters of a round are released when it ends.
func (k *jwksKeys) refresher(ctx context.Context) {
	for {
		var kid string
		select {
		case <-ctx.Done():
			return
		case kid = <-k.kick:
		}
		if k.store.snap.Load().byKid[kid] == nil { // not found by a periodic refresh meanwhile
			if d := time.Until(time.Unix(0, k.nextAt.Load())); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
			k.fetching.Store(true)
			k.nextAt.Store(time.Now().Add(k.gap).UnixNano())
			k.fetches.Add(1)
			fctx, cancel := context.WithTimeout(ctx, k.timeout)
			_, _ = k.client.KeyRead(fctx, kid) // fetches the JWKS again; a failure is logged and keeps the keys
			cancel()
			k.fetching.Store(false)
		}
		close(k.round.Swap(&jwksRound{done: make(chan struct{})}).done)
	}
}

// jwksAuthorizer is the subscriber Authorizer of --auth jwt with a JWKS. A
// request whose token can be decided from the keys at hand — any token but
// one whose kid the JWKS lacks — is decided on the reactor (decide); the
// others are authorized off it (Authorize), where a refresh of the JWKS may
// be waited for. It is not inline: a caller that cannot decide first (a
// multiplexed request) runs it off the reactor.
type jwksAuthorizer struct{ a *JWTAuth }

// Authorize implements Authorizer; it may wait for a refresh of the JWKS,
// within ctx.
func (j jwksAuthorizer) Authorize(ctx context.Context, channel string, req *httpx.Request) (string, bool, error) {
	return j.a.authorize(ctx, channel, req, true)
}

// decide implements decider: the answer of the JWTAuth, which never blocks,
// unless the token's kid is unknown (then a refresh is under way).
func (j jwksAuthorizer) decide(channel string, req *httpx.Request) (decision, Grant, bool) {
	p := &noFetch{a: j.a}
	d, g := authorize(context.Background(), p, channel, req)
	return d, g, !p.unknownKey
}

// noFetch is the JWTAuth as an Authorizer that notes a token refused for an
// unknown kid.
type noFetch struct {
	a          *JWTAuth
	unknownKey bool
}

func (n *noFetch) Authorize(ctx context.Context, channel string, req *httpx.Request) (string, bool, error) {
	p, ok, err := n.a.authorize(ctx, channel, req, false)
	if err != nil {
		var unknown *unknownKeyError
		n.unknownKey = errors.As(err, &unknown)
	}
	return p, ok, err
}

// jwksStore is the jwkset.Storage of a JWKS: jwkset writes each fetch with
// KeyReplaceAll; readers load an immutable snapshot, with no lock.
type jwksStore struct {
	url  string // immutable
	log  *slog.Logger
	mu   sync.Mutex // serializes writers; readers never take it
	snap atomic.Pointer[jwksSnapshot]
}

// jwksSnapshot is one state of the key set. Immutable.
type jwksSnapshot struct {
	all   []jwkset.JWK
	byKid map[string]*jwksKey // the first key of each kid
}

// jwksKey is a key of the set. A key fetched again unchanged keeps its
// entry, so that the tokens it verified stay cached.
type jwksKey struct {
	kid string
	jwk jwkset.JWK
}

var _ jwkset.Storage = (*jwksStore)(nil)

// replace installs keys as the key set.
func (s *jwksStore) replace(keys []jwkset.JWK) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.snap.Load()
	next := &jwksSnapshot{all: keys, byKid: make(map[string]*jwksKey, len(keys))}
	for _, j := range keys {
		kid := j.Marshal().KID
		if kid == "" || next.byKid[kid] != nil {
			continue
		}
		if e := old.byKid[kid]; e != nil && reflect.DeepEqual(e.jwk.Marshal(), j.Marshal()) {
			next.byKid[kid] = e
		} else {
			next.byKid[kid] = &jwksKey{kid: kid, jwk: j}
		}
	}
	s.snap.Store(next)
	if changed(old, next) {
		s.log.Info("JWKS keys", "url", s.url, "kids", kids(next))
	}
}

func changed(a, b *jwksSnapshot) bool {
	if len(a.byKid) != len(b.byKid) {
		return true
	}
	for kid, e := range b.byKid {
		if a.byKid[kid] != e {
			return true
		}
	}
	return false
}

func kids(s *jwksSnapshot) []string {
	out := make([]string, 0, len(s.byKid))
	for kid := range s.byKid {
		out = append(out, kid)
	}
	slices.Sort(out)
	return out
}

// KeyRead returns the key of kid, and records its entry where the context
// asks (usedKey).
func (s *jwksStore) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	e := s.snap.Load().byKid[kid]
	if e == nil {
		return jwkset.JWK{}, fmt.Errorf("%w: kid %q", jwkset.ErrKeyNotFound, kid)
	}
	if used, ok := ctx.Value(usedKey{}).(**jwksKey); ok {
		*used = e
	}
	return e.jwk, nil
}

func (s *jwksStore) KeyReadAll(context.Context) ([]jwkset.JWK, error) {
	return slices.Clone(s.snap.Load().all), nil
}

func (s *jwksStore) KeyReplaceAll(_ context.Context, given []jwkset.JWK) error {
	s.replace(slices.Clone(given))
	return nil
}

func (s *jwksStore) KeyWrite(_ context.Context, jwk jwkset.JWK) error {
	s.replace(append(slices.Clone(s.snap.Load().all), jwk))
	return nil
}

func (s *jwksStore) KeyDelete(_ context.Context, kid string) (bool, error) {
	all := s.snap.Load().all
	i := slices.IndexFunc(all, func(j jwkset.JWK) bool { return j.Marshal().KID == kid })
	if i < 0 {
		return false, nil
	}
	s.replace(slices.Delete(slices.Clone(all), i, i+1))
	return true, nil
}

// memory copies the key set into a jwkset memory storage, which renders it.
func (s *jwksStore) memory(ctx context.Context) *jwkset.MemoryJWKSet {
	m := jwkset.NewMemoryStorage()
	_ = m.KeyReplaceAll(ctx, slices.Clone(s.snap.Load().all))
	return m
}

func (s *jwksStore) JSON(ctx context.Context) (json.RawMessage, error) {
	return s.memory(ctx).JSON(ctx)
}
func (s *jwksStore) JSONPublic(ctx context.Context) (json.RawMessage, error) {
	return s.memory(ctx).JSONPublic(ctx)
}
func (s *jwksStore) JSONPrivate(ctx context.Context) (json.RawMessage, error) {
	return s.memory(ctx).JSONPrivate(ctx)
}
func (s *jwksStore) JSONWithOptions(ctx context.Context, m jwkset.JWKMarshalOptions, v jwkset.JWKValidateOptions) (json.RawMessage, error) {
	return s.memory(ctx).JSONWithOptions(ctx, m, v)
}
func (s *jwksStore) Marshal(ctx context.Context) (jwkset.JWKSMarshal, error) {
	return s.memory(ctx).Marshal(ctx)
}
func (s *jwksStore) MarshalWithOptions(ctx context.Context, m jwkset.JWKMarshalOptions, v jwkset.JWKValidateOptions) (jwkset.JWKSMarshal, error) {
	return s.memory(ctx).MarshalWithOptions(ctx, m, v)
}

// limitedTransport cuts a JWKS response at jwksMaxBytes: a larger document
// does not parse, and the fetch fails.
type limitedTransport struct{ base http.RoundTripper }

func (t limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err == nil {
		resp.Body = limitedBody{io.LimitReader(resp.Body, jwksMaxBytes), resp.Body}
	}
	return resp, err
}

type limitedBody struct {
	io.Reader
	io.Closer
}
