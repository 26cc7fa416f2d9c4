package broker

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/workkit/realtime/channel"
	"github.com/workkit/realtime/lifecycle"
	"github.com/workkit/realtime/loop"
)

// DefaultChannelPattern is the default of --channel-pattern.
const DefaultChannelPattern = `^[a-zA-Z0-9:_.-]{1,128}$`

// Config is the whole configuration of a server (SPEC section 2). main
// maps flags and REALTIME_* variables onto it; DefaultConfig gives the
// defaults.
type Config struct {
	Addr              string        // public listener
	AdminAddr         string        // admin listener (metrics, pprof, healthz); empty disables it
	Auth              string        // "jwt", "webhook" or "none"
	JWTSecret         string        // HS256 secret; empty with no public key or JWKS: an ephemeral one is generated
	JWTPublicKey      string        // PEM file of an RS256/ES256/EdDSA public key, instead of a secret
	JWTSecretPrevious string        // HS256 secret still accepted (any token), during a rotation
	JWTJWKSURL        string        // JWKS endpoint: RS256/ES256/EdDSA keys selected by kid; with or without a secret
	JWTJWKSRefresh    time.Duration // the JWKS is fetched again this often (and on an unknown kid, at most every 5 s)
	JWTIssuer         string        // if set, the iss every token must carry
	JWTAudience       []string      // if set, the aud (string or array) of every token must name one of them
	JWTCookie         string        // cookie searched for a subscriber token
	AuthURL           string        // webhook authorizer URL
	AuthTimeout       time.Duration // webhook timeout; a timeout denies
	PublishKey        string        // static publisher key, accepted as a bearer token
	ChannelPattern    string        // channel names outside it: 400
	Retry             time.Duration // retry hint sent at the start of each stream
	CORSOrigins       []string      // allowed origins; empty: no CORS headers
	ShutdownTimeout   time.Duration // graceful shutdown bound
	LogFormat         string        // "text" or "json"
	MaxStreamChannels int           // channels one multiplexed stream or poll may name (SPEC 3.8)
	Redis             string        // --redis: share channels through Redis (main builds the engine); empty: the memory engine
	RedisTimeout      time.Duration // --redis-timeout
	EventsURL         string        // --events-url: where channel lifecycle webhooks are POSTed (SPEC 3.9); empty: none
	EventsSecret      string        // --events-secret: their HMAC-SHA256 key
	EventsQueue       int           // --events-queue: webhook events held at most while the receiver fails; past it they are dropped (counted)

	Loop    loop.Config    // reactor: limits, timeouts, heartbeat
	Channel channel.Config // channels: replay buffer, subscriber cap, idle TTL
}

// DefaultConfig returns the defaults of SPEC section 2.
func DefaultConfig() Config {
	return Config{
		Addr:              ":8080",
		AdminAddr:         "127.0.0.1:9090",
		Auth:              "jwt",
		JWTCookie:         "realtime_token",
		JWTJWKSRefresh:    DefaultJWKSRefresh,
		AuthTimeout:       2 * time.Second,
		ChannelPattern:    DefaultChannelPattern,
		Retry:             2 * time.Second,
		ShutdownTimeout:   10 * time.Second,
		LogFormat:         "text",
		RedisTimeout:      time.Second,
		EventsQueue:       lifecycle.DefaultMaxQueue,
		MaxStreamChannels: 32,
		Loop:              loop.DefaultConfig(),
		Channel:           channel.DefaultConfig(),
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch c.Auth {
	case "jwt", "none":
	case "webhook":
		if c.AuthURL == "" {
			return errors.New("broker: --auth webhook needs --auth-url")
		}
	default:
		return fmt.Errorf("broker: --auth must be jwt, webhook or none, not %q", c.Auth)
	}
	switch {
	case c.JWTSecret != "" && c.JWTPublicKey != "":
		return errors.New("broker: give --jwt-secret or --jwt-public-key, not both")
	case c.JWTPublicKey != "" && c.JWTJWKSURL != "":
		return errors.New("broker: give --jwt-public-key or --jwt-jwks-url, not both")
	case c.JWTSecretPrevious != "" && c.JWTSecret == "" && c.JWTPublicKey == "" && c.JWTJWKSURL == "":
		return errors.New("broker: --jwt-secret-previous needs the current key: --jwt-secret, --jwt-public-key or --jwt-jwks-url")
	case c.JWTJWKSURL != "" && !validJWKSURL(c.JWTJWKSURL):
		return fmt.Errorf("broker: --jwt-jwks-url must be an http:// or https:// URL, not %q", c.JWTJWKSURL)
	case c.JWTJWKSURL != "" && c.JWTJWKSRefresh <= 0:
		return errors.New("broker: --jwt-jwks-refresh must be positive")
	case c.AuthTimeout <= 0:
		return errors.New("broker: --auth-timeout must be positive")
	case c.EventsQueue < 1:
		return errors.New("broker: --events-queue must be at least 1")
	case c.MaxStreamChannels < 1:
		return errors.New("broker: --max-stream-channels must be at least 1")
	case c.Retry < 0:
		return errors.New("broker: --retry must not be negative")
	case c.ShutdownTimeout <= 0:
		return errors.New("broker: --shutdown-timeout must be positive")
	case c.LogFormat != "text" && c.LogFormat != "json":
		return errors.New("broker: --log-format must be text or json")
	}
	for _, o := range c.CORSOrigins {
		if o == "null" {
			return errors.New("broker: --cors-origins must not list \"null\": any sandboxed page sends it")
		}
	}
	if m := c.Channel.ReplayMemory; m > 0 && m < 2*int64(c.Loop.MaxBodyBytes) {
		// The one place these two limits meet: the budget must hold the
		// newest events of a channel, whatever their size.
		return fmt.Errorf("broker: --replay-memory must be 0 (no limit) or at least twice --max-publish-bytes (%d)", 2*c.Loop.MaxBodyBytes)
	}
	if _, err := regexp.Compile(c.ChannelPattern); err != nil {
		return fmt.Errorf("broker: --channel-pattern: %w", err)
	}
	if err := c.Loop.Validate(); err != nil {
		return err
	}
	return c.Channel.Validate()
}

func validJWKSURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
