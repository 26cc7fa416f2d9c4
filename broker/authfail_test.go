package broker_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/workkit/realtime/broker"
)

// appRequest is what the application behind --auth webhook was asked.
type appRequest struct {
	channel, cookie, auth string
}

// appAnswer is what it answers: a status, a JSON body, a Location.
type appAnswer struct {
	status   int
	body     any
	location string
}

// authApp plays the application behind --auth webhook with decide; it
// also serves /login (200) for redirects to land on.
func authApp(t *testing.T, decide func(*appRequest) appAnswer) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			fmt.Fprint(w, `{"principal":"login-page"}`)
			return
		}
		a := decide(&appRequest{channel: r.URL.Query().Get("channel"), cookie: r.Header.Get("Cookie"), auth: r.Header.Get("Authorization")})
		if a.location != "" {
			w.Header().Set("Location", a.location)
		}
		w.WriteHeader(a.status)
		if a.body != nil {
			_ = json.NewEncoder(w).Encode(a.body)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func webhookServer(t *testing.T, app *httptest.Server, mutate func(*broker.Config)) *server {
	return startServer(t, func(c *broker.Config) {
		c.Auth, c.AuthURL, c.AuthTimeout = "webhook", app.URL+"/auth", time.Second
		if mutate != nil {
			mutate(c)
		}
	})
}

// TestWebhookAnswers maps every kind of answer of the application to what
// the subscriber gets (SPEC 4): redirects are never followed, 3xx/4xx
// deny, 401 passes through, 5xx, errors and timeouts are 503.
func TestWebhookAnswers(t *testing.T) {
	app := authApp(t, func(r *appRequest) appAnswer {
		switch r.channel {
		case "redirect":
			return appAnswer{status: 302, location: "/login"}
		case "notfound":
			return appAnswer{status: 404}
		case "unauth":
			return appAnswer{status: 401}
		case "broken":
			return appAnswer{status: 500}
		case "slow":
			time.Sleep(1500 * time.Millisecond)
		}
		return appAnswer{status: 200, body: map[string]string{"principal": "u1"}}
	})
	s := webhookServer(t, app, nil)
	for ch, want := range map[string]int{"redirect": 403, "notfound": 403, "unauth": 401, "broken": 503, "slow": 503, "fine": 200} {
		st, r := s.trySubscribe(ch, "Cookie: s=1\r\n")
		if r.status != want {
			t.Errorf("%s: %d %s, want %d", ch, r.status, r.body, want)
		}
		if want == 503 && r.header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", ch)
		}
		if st != nil {
			st.c.Close()
		}
	}
}

// TestWebhookExpiresIn: an allow with expiresIn ends the stream then.
func TestWebhookExpiresIn(t *testing.T) {
	app := authApp(t, func(*appRequest) appAnswer {
		return appAnswer{status: 200, body: map[string]any{"principal": "u1", "expiresIn": 1}}
	})
	s := webhookServer(t, app, nil)
	st := s.subscribe("short", "Cookie: s=1\r\n")
	if took := closedWithin(t, st.c, 5*time.Second); took > 2*time.Second {
		t.Fatalf("closed after %v, want about 1s", took)
	}
}

// TestBusyAuthorizerAnswers503: more concurrent subscribes than authorizer
// slots, on a slow authorizer: nobody is refused for good (403); whoever
// is not let in gets 503 with Retry-After.
func TestBusyAuthorizerAnswers503(t *testing.T) {
	app := authApp(t, func(*appRequest) appAnswer { time.Sleep(time.Second); return appAnswer{status: 200} })
	s := webhookServer(t, app, func(c *broker.Config) { c.AuthTimeout = 2 * time.Second })
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	for i := 0; i < 600; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, r := s.trySubscribe("busy", fmt.Sprintf("Cookie: s=%d\r\n", i))
			if st != nil {
				st.c.Close()
			}
			if r.status == 503 && r.header.Get("Retry-After") == "" {
				r.status = -503
			}
			mu.Lock()
			counts[r.status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if counts[200]+counts[503] != 600 {
		t.Fatalf("statuses %v: want only 200 and 503 with Retry-After", counts)
	}
}

// TestWebhookAllowsAreCachedBriefly: the same credential on the same
// channel is not sent to the application again within seconds; another
// credential, or a deny, is.
func TestWebhookAllowsAreCachedBriefly(t *testing.T) {
	var calls atomic.Int32
	app := authApp(t, func(r *appRequest) appAnswer {
		calls.Add(1)
		if r.cookie == "s=no" {
			return appAnswer{status: 403}
		}
		return appAnswer{status: 200}
	})
	s := webhookServer(t, app, nil).node0() // the cache is each node's
	// One Authorization header for all: it is part of the credential, and
	// a token minted a second later would be another one.
	auth := bearerHeader(subToken(t))
	for i := 0; i < 3; i++ {
		s.subscribe("c", "Cookie: s=1\r\n", auth).c.Close()
	}
	s.subscribe("c", "Cookie: s=2\r\n", auth).c.Close()
	s.subscribe("other", "Cookie: s=1\r\n", auth).c.Close()
	for i := 0; i < 2; i++ {
		if _, r := s.trySubscribe("c", "Cookie: s=no\r\n", auth); r.status != 403 {
			t.Fatalf("deny: %d", r.status)
		}
	}
	if n := calls.Load(); n != 5 {
		t.Fatalf("the application was asked %d times, want 5 (1 + 1 + 1 + 2 denies)", n)
	}
}
