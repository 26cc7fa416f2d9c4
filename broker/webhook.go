package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/workkit/realtime/httpx"
)

// webhookAuth is the Authorizer of --auth webhook: it asks the
// application, GET <url>?channel=<channel> with the subscriber's Cookie
// and Authorization headers. A 2xx answer allows (a JSON body
// {"principal":".."} names the principal), a 401 asks the client to
// authenticate, anything else — or an error, or the timeout — denies. It
// blocks, so the broker runs it off the reactor.
type webhookAuth struct {
	url    string       // immutable
	client *http.Client // immutable
}

func newWebhookAuth(rawURL string, timeout time.Duration) *webhookAuth {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	tr.MaxConnsPerHost = maxAuthCalls
	return &webhookAuth{url: rawURL, client: &http.Client{Timeout: timeout, Transport: tr}}
}

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
	for _, name := range []string{"Cookie", "Authorization"} {
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
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return "", false, unauthenticatedf("authorizer answered 401")
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return "", false, fmt.Errorf("broker: authorizer answered %d", resp.StatusCode)
	}
	var answer struct {
		Principal string `json:"principal"`
	}
	_ = json.Unmarshal(body, &answer) // the body is optional
	return answer.Principal, true, nil
}
