package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/workkit/realtime/broker"
)

// bindFlags declares every flag of SPEC section 2 onto cfg's fields.
func bindFlags(fs *flag.FlagSet, cfg *broker.Config) {
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "public listener (SSE, publish, poll, client)")
	fs.StringVar(&cfg.AdminAddr, "admin-addr", cfg.AdminAddr, "admin listener: /metrics, /debug/pprof/, /healthz; empty disables")
	fs.StringVar(&cfg.Auth, "auth", cfg.Auth, "jwt, webhook or none (development only)")
	bindJWTFlags(fs, cfg)
	fs.StringVar(&cfg.JWTCookie, "jwt-cookie", cfg.JWTCookie, "cookie searched for a subscriber token")
	fs.StringVar(&cfg.AuthURL, "auth-url", cfg.AuthURL, "webhook authorizer URL (with --auth webhook)")
	fs.DurationVar(&cfg.AuthTimeout, "auth-timeout", cfg.AuthTimeout, "webhook timeout; a timeout is a deny")
	fs.StringVar(&cfg.PublishKey, "publish-key", cfg.PublishKey, "static key accepted as 'Authorization: Bearer <key>' on publish endpoints")
	fs.IntVar(&cfg.Channel.ReplayBuffer, "replay-buffer", cfg.Channel.ReplayBuffer, "events kept per channel")
	fs.IntVar(&cfg.Channel.MaxSubscribers, "max-subscribers-per-channel", cfg.Channel.MaxSubscribers, "subscribers per channel; over it: 429")
	fs.IntVar(&cfg.Loop.MaxConns, "max-conns", cfg.Loop.MaxConns, "open connections; over it: 503 (default RLIMIT_NOFILE-64)")
	fs.DurationVar(&cfg.Loop.Heartbeat, "heartbeat", cfg.Loop.Heartbeat, "a comment frame is sent after this long without a write")
	fs.StringVar(&cfg.ChannelPattern, "channel-pattern", cfg.ChannelPattern, "channel names outside it: 400")
	fs.DurationVar(&cfg.Channel.IdleTTL, "channel-idle-ttl", cfg.Channel.IdleTTL, "a channel with no subscribers and no publish for this long is evicted")
	fs.IntVar(&cfg.MaxStreamChannels, "max-stream-channels", cfg.MaxStreamChannels, "channels one multiplexed stream or poll may name")
	fs.IntVar(&cfg.Channel.MaxChannels, "max-channels", cfg.Channel.MaxChannels, "channels held at once; creating one more: 503 with Retry-After")
	fs.Var(byteSize{&cfg.Channel.ReplayMemory}, "replay-memory", "bytes of buffered events over all channels (e.g. 256MiB); past it the oldest events of the least recently published channels are dropped")
	fs.IntVar(&cfg.Loop.MaxPendingBytes, "max-pending-bytes", cfg.Loop.MaxPendingBytes, "a subscriber whose unflushed bytes exceed this is disconnected")
	fs.DurationVar(&cfg.Loop.WriteStallTimeout, "write-stall-timeout", cfg.Loop.WriteStallTimeout, "a subscriber whose socket accepted nothing for this long is disconnected")
	fs.IntVar(&cfg.Loop.MaxBodyBytes, "max-publish-bytes", cfg.Loop.MaxBodyBytes, "request bodies over it: 413")
	fs.IntVar(&cfg.Loop.MaxHeaderBytes, "max-header-bytes", cfg.Loop.MaxHeaderBytes, "request heads over it: 431")
	fs.DurationVar(&cfg.Loop.HeaderTimeout, "header-timeout", cfg.Loop.HeaderTimeout, "a request head not complete in time: connection closed")
	fs.DurationVar(&cfg.Loop.IdleTimeout, "idle-timeout", cfg.Loop.IdleTimeout, "keep-alive (non-SSE) connections idle this long are closed")
	fs.Var(millis{&cfg.Retry}, "retry", "retry: hint (ms) at the start of each stream, jittered per stream by up to ±25 %")
	fs.Var(list{&cfg.CORSOrigins}, "cors-origins", "comma-separated allowed origins (credentials allowed); empty: no CORS headers")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "graceful shutdown bound")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "text or json")
	fs.StringVar(&cfg.Redis, "redis", cfg.Redis, "redis://host:port/db or redis-cluster://h1:p1,h2:p2: share channels with other nodes (default: the embedded memory engine)")
	fs.DurationVar(&cfg.RedisTimeout, "redis-timeout", cfg.RedisTimeout, "a Redis command not answered in time: the request gets 503")
	fs.StringVar(&cfg.EventsURL, "events-url", cfg.EventsURL, "POST channel lifecycle webhooks (channel.occupied, channel.vacated) here, batched and signed")
	fs.IntVar(&cfg.EventsQueue, "events-queue", cfg.EventsQueue, "lifecycle webhook events held at most while the receiver fails; more are dropped and counted")
	fs.StringVar(&cfg.EventsSecret, "events-secret", cfg.EventsSecret, "HMAC-SHA256 key of the webhooks' X-Realtime-Signature; prefer REALTIME_EVENTS_SECRET")
}

// bindJWTFlags declares the flags of the keys that verify tokens and the
// claims they must carry: the server's, and `realtime checktoken`'s.
func bindJWTFlags(fs *flag.FlagSet, cfg *broker.Config) {
	fs.StringVar(&cfg.JWTSecret, "jwt-secret", cfg.JWTSecret, "HS256 secret (default: an ephemeral one, unless --jwt-public-key or --jwt-jwks-url); visible to anyone who can list processes: prefer --jwt-secret-file or REALTIME_JWT_SECRET")
	fs.Var(secretFile{&cfg.JWTSecret}, "jwt-secret-file", "file holding the HS256 secret (its trailing newline is ignored)")
	fs.StringVar(&cfg.JWTSecretPrevious, "jwt-secret-previous", cfg.JWTSecretPrevious, "previous HS256 secret, still accepted for every kind of token during a rotation; prefer REALTIME_JWT_SECRET_PREVIOUS")
	fs.StringVar(&cfg.JWTPublicKey, "jwt-public-key", cfg.JWTPublicKey, "PEM public key file for RS256/ES256/EdDSA tokens")
	fs.StringVar(&cfg.JWTJWKSURL, "jwt-jwks-url", cfg.JWTJWKSURL, "JWKS endpoint of an identity provider: RS256/ES256/EdDSA keys selected by the token's kid (with or without --jwt-secret)")
	fs.DurationVar(&cfg.JWTJWKSRefresh, "jwt-jwks-refresh", cfg.JWTJWKSRefresh, "the JWKS is fetched again this often, and at once on an unknown kid (at most once per 5 s)")
	fs.StringVar(&cfg.JWTIssuer, "jwt-issuer", cfg.JWTIssuer, "if set, every token must carry this iss")
	fs.Var(list{&cfg.JWTAudience}, "jwt-audience", "if set (comma-separated), every token's aud must name one of these")
}

// parseFlags parses args, then gives every flag not on the command line
// the value of its REALTIME_* variable, if set: flags win over the
// environment. Two ways of giving the same secret is an error.
func parseFlags(fs *flag.FlagSet, args []string) error { return parseFlagsArgs(fs, args, 0) }

// parseFlagsArgs is parseFlags for a command that takes up to maxArgs
// arguments after its flags (fs.Args()).
func parseFlagsArgs(fs *flag.FlagSet, args []string, maxArgs int) error {
	if err := parseFlagsEnv(fs, args, maxArgs); err != nil {
		return err
	}
	if given(fs, "jwt-secret") && given(fs, "jwt-secret-file") {
		err := errors.New("give --jwt-secret (REALTIME_JWT_SECRET) or --jwt-secret-file, not both")
		fmt.Fprintln(fs.Output(), err)
		return err
	}
	return nil
}

// given reports whether flag name was set on the command line or by its
// environment variable.
func given(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	if v, ok := os.LookupEnv(envName(name)); ok && v != "" {
		set = true
	}
	return set
}

func parseFlagsEnv(fs *flag.FlagSet, args []string, maxArgs int) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > maxArgs {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(maxArgs))
		fmt.Fprintln(fs.Output(), err)
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok || v == "" {
			return
		}
		if e := f.Value.Set(v); e != nil {
			err = fmt.Errorf("%s=%q: %v", envName(f.Name), v, e)
			fmt.Fprintln(fs.Output(), err)
		}
	})
	return err
}

// envName maps --max-subscribers-per-channel to REALTIME_MAX_SUBSCRIBERS_PER_CHANNEL.
func envName(flagName string) string {
	return "REALTIME_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// millis is a flag holding a duration written as integer milliseconds.
type millis struct{ d *time.Duration }

func (m millis) String() string {
	if m.d == nil {
		return "0"
	}
	return strconv.FormatInt(m.d.Milliseconds(), 10)
}

func (m millis) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("want a non-negative number of milliseconds")
	}
	*m.d = time.Duration(n) * time.Millisecond
	return nil
}

// list is a flag holding a comma-separated list.
type list struct{ v *[]string }

func (l list) String() string {
	if l.v == nil {
		return ""
	}
	return strings.Join(*l.v, ",")
}

func (l list) Set(s string) error { *l.v = splitList(s); return nil }

// secretFile is a flag naming a file whose contents (without a trailing
// newline) are a secret: the secret stays off the command line.
type secretFile struct{ secret *string }

func (f secretFile) String() string { return "" }

func (f secretFile) Set(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return fmt.Errorf("%s is empty", path)
	}
	*f.secret = s
	return nil
}

// byteSize is a flag holding a number of bytes, written as an integer with
// an optional KiB, MiB or GiB suffix.
type byteSize struct{ n *int64 }

func (b byteSize) String() string {
	if b.n == nil {
		return "0"
	}
	for _, u := range byteUnits {
		if *b.n >= u.size && *b.n%u.size == 0 {
			return strconv.FormatInt(*b.n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(*b.n, 10)
}

var byteUnits = []struct {
	suffix string
	size   int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}

func (b byteSize) Set(s string) error {
	mult := int64(1)
	for _, u := range byteUnits {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = num, u.size
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return fmt.Errorf("want a non-negative number of bytes, optionally with KiB, MiB or GiB")
	}
	*b.n = n * mult
	return nil
}
