// Package redisengine is the Redis engine (SPEC 7): any number of nodes
// share every channel through one Redis or a Redis Cluster, with the replay
// and reset rules of the memory engine intact across nodes, node deaths and
// Redis faults. It implements channel.Engine on github.com/redis/rueidis.
//
// Ids are assigned in Redis by one script per event, atomically with the
// append to the channel's capped stream and the publish to its pub/sub
// channel. Each node keeps a mirror of every channel it serves (a
// channel.Channel fed from pub/sub), so local subscribers, resumes and
// polls are served without a round trip. See DESIGN.md for the data flow
// and docs/scale-out.md for the failure table.
package redisengine

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/workkit/realtime/channel"
)

// Config configures an Engine. Map flags onto it in main; DefaultConfig
// gives SPEC 2's defaults.
type Config struct {
	// URL is redis://host:port/db for one Redis, or
	// redis-cluster://h1:p1,h2:p2 for a Redis Cluster (--redis).
	URL string
	// Timeout bounds every Redis command; a command not answered in time
	// fails the request with 503 (--redis-timeout).
	Timeout time.Duration
	// Prefix starts every key and pub/sub channel name, so that several
	// deployments (or tests) can share one Redis. It must not hold a brace.
	Prefix string
	// Channel sizes the local mirrors: replay buffer (the stream's MAXLEN
	// too), subscriber cap (per node), idle TTL (also the keys' TTL in
	// Redis), channel and memory limits.
	Channel channel.Config
}

// DefaultConfig returns SPEC 2's defaults, without a URL.
func DefaultConfig() Config {
	return Config{Timeout: time.Second, Prefix: "rt:", Channel: channel.DefaultConfig()}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if _, _, err := parseURL(c.URL); err != nil {
		return err
	}
	switch {
	case c.Timeout <= 0:
		return errors.New("redisengine: --redis-timeout must be positive")
	case strings.ContainsAny(c.Prefix, "{}"):
		return errors.New("redisengine: the key prefix must not hold braces (they pick a Cluster hash slot)")
	}
	return c.Channel.Validate()
}

// parseURL returns the addresses of --redis and whether it names a Cluster.
// Redacted returns the URL of --redis with its password, if any, masked:
// for logs.
func Redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

func parseURL(raw string) (addrs []string, cluster bool, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, false, fmt.Errorf("redisengine: --redis: %w", err)
	}
	switch u.Scheme {
	case "redis":
		if u.Host == "" {
			return nil, false, errors.New("redisengine: --redis redis://host:port/db needs a host")
		}
		if u.Query().Has("master_set") {
			return nil, false, errors.New("redisengine: --redis: Sentinel (master_set) is not supported; use one Redis or a Cluster")
		}
		return []string{u.Host}, false, nil
	case "redis-cluster":
		for _, a := range strings.Split(u.Host, ",") {
			if a = strings.TrimSpace(a); a != "" {
				addrs = append(addrs, a)
			}
		}
		if len(addrs) == 0 {
			return nil, false, errors.New("redisengine: --redis redis-cluster://h1:p1,h2:p2 needs at least one address")
		}
		return addrs, true, nil
	}
	return nil, false, fmt.Errorf("redisengine: --redis must start with redis:// or redis-cluster://, not %q", u.Scheme+"://")
}
