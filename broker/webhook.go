package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/workkit/realtime/httpx"
)

// webhookAuth is the Authorizer of --auth webhook: it asks the
// application, GET <url>?channel=<channel> with the subscriber's Cookie
// and Authorization headers (SPEC 4). A 2xx answer allows (a JSON body
// {"principal":"..","expiresIn":S} names the principal and ends the stream
// after S seconds), 401 asks the client to authenticate, any other 3xx or
// 4xx denies — redirects are never followed, so a login page cannot pass
// for an allow —, and a 5xx, an error or the timeout is a failure (503).
// It blocks, so the broker runs it off the reactor; its allow decisions
// are remembered for a few seconds per credential and channel, which a
// reconnect storm of the same clients then does not send to the
// application again. Safe for concurrent use.
type webhookAuth struct {
	url    string       // immutable
	client *http.Client // immutable
	cache  *allowCache
}

// errWebhookFailed is a webhook authorizer that answered 5xx.
var errWebhookFailed = errors.New("broker: authorizer failed")

func newWebhookAuth(rawURL string, timeout time.Duration) *webhookAuth {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	tr.MaxConnsPerHost = maxAuthCalls
	return &webhookAuth{
		url: rawURL,
		client: &http.Client{Timeout: timeout, Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		cache: newAllowCache(allowCacheSize, allowCacheTTL),
	}
}

// forwarded are the subscriber's headers the application decides on.
var forwarded = [...]string{"Cookie", "Authorization"}

// Authorize implements Authorizer.
func (w *webhookAuth) Authorize(ctx context.Context, channel string, req *httpx.Request) (string, bool, error) {
	sep := "?"
	if strings.Contains(w.url, "?") {
		sep = "&"
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, w.url+sep+"channel="+url.QueryEscape(channel), nil)
	if err != nil {
		return "", false, err
	}
	for _, name := range forwarded {
		if v := req.Header(name); v != nil {
			hreq.Header.Set(name, string(v))
		}
	}
	resp, err := w.client.Do(hreq)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized:
		return "", false, unauthenticatedf("authorizer answered 401")
	case code >= 500:
		return "", false, fmt.Errorf("%w: %d", errWebhookFailed, code)
	case code < 200 || code > 299:
		return "", false, nil // 3xx (never followed) and 4xx deny
	}
	var answer struct {
		Principal string  `json:"principal"`
		ExpiresIn float64 `json:"expiresIn"`
	}
	_ = json.Unmarshal(body, &answer) // the body is optional
	g := GrantFrom(ctx)
	if answer.ExpiresIn > 0 {
		g.Expires = time.Now().Add(time.Duration(answer.ExpiresIn * float64(time.Second)))
	}
	w.cache.put(w.cacheKey(channel, req), answer.Principal, *g)
	return answer.Principal, true, nil
}

// Cached implements cachedAuthorizer: an allow given moments ago for the
// same credentials and channel, if it has not expired.
func (w *webhookAuth) Cached(channel string, req *httpx.Request) (string, Grant, bool) {
	return w.cache.get(w.cacheKey(channel, req))
}

// cacheKey identifies a decision: the channel and every header forwarded,
// each preceded by its length (-1 when absent) so that no two requests
// share a key.
func (w *webhookAuth) cacheKey(channel string, req *httpx.Request) []byte {
	key := strconv.AppendInt(nil, int64(len(channel)), 10)
	key = append(append(key, ':'), channel...)
	for _, name := range forwarded {
		v, n := req.Header(name), -1
		if v != nil {
			n = len(v)
		}
		key = strconv.AppendInt(append(key, ' '), int64(n), 10)
		key = append(append(key, ':'), v...)
	}
	return key
}
