package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/workkit/realtime/broker"
)

// checkTimeout bounds `realtime checktoken`, a JWKS fetch included.
const checkTimeout = 20 * time.Second

// runCheckToken implements `realtime checktoken [JWT flags] TOKEN`: it
// verifies TOKEN ("-": read from stdin) as the server configured with the
// same flags (and REALTIME_* variables) would, and prints its claims as
// JSON on stdout (exit 0), or "refused: <reason>: <details>" on stderr
// (exit 1). Usage errors exit 2.
func runCheckToken(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("realtime checktoken", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: realtime checktoken [--jwt-secret S | --jwt-secret-file F | --jwt-public-key PEM | --jwt-jwks-url URL] [--jwt-secret-previous S] [--jwt-issuer I] [--jwt-audience A] TOKEN")
		fs.PrintDefaults()
	}
	cfg := broker.DefaultConfig()
	bindJWTFlags(fs, &cfg)
	if err := parseFlagsArgs(fs, args, 1); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	if cfg.JWTSecret == "" && cfg.JWTPublicKey == "" && cfg.JWTJWKSURL == "" {
		fmt.Fprintln(stderr, "realtime checktoken: no key: give --jwt-secret, --jwt-secret-file, --jwt-public-key or --jwt-jwks-url (or their REALTIME_* variables)")
		return 2
	}
	tok := fs.Arg(0)
	if tok == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
		if err != nil {
			fmt.Fprintln(stderr, "realtime checktoken:", err)
			return 2
		}
		tok = string(b)
	}
	tok = strings.TrimSpace(tok)
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	a, err := broker.NewJWT(broker.JWTOptions{Secret: []byte(cfg.JWTSecret), PreviousSecret: []byte(cfg.JWTSecretPrevious),
		PublicKeyFile: cfg.JWTPublicKey, JWKSURL: cfg.JWTJWKSURL, JWKSRefresh: cfg.JWTJWKSRefresh,
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, Ctx: ctx,
		Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Fprintln(stderr, "realtime checktoken:", strings.TrimPrefix(err.Error(), "broker: "))
		return 2
	}
	if _, err := a.VerifyContext(ctx, tok); err != nil {
		var te *broker.TokenError
		if errors.As(err, &te) {
			fmt.Fprintf(stderr, "refused: %s: %v\n", te.Reason, te.Err)
		} else {
			fmt.Fprintf(stderr, "refused: not verified in time: %v\n", err)
		}
		return 1
	}
	// The claims as signed, every one of them, in their order.
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var out bytes.Buffer
	if err == nil {
		err = json.Indent(&out, raw, "", "  ")
	}
	if err != nil { // cannot be: the token verified
		fmt.Fprintln(stderr, "realtime checktoken:", err)
		return 1
	}
	out.WriteByte('\n')
	_, _ = out.WriteTo(stdout)
	return 0
}
