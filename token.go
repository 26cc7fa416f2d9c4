package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/workkit/realtime/broker"
)

// runToken implements `realtime token`: it prints a JWT signed with the
// configured secret (--jwt-secret, --jwt-secret-file or
// REALTIME_JWT_SECRET), for tests and scripts.
func runToken(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("realtime token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	secret := fs.String("jwt-secret", "", "HS256 secret (default $REALTIME_JWT_SECRET)")
	fs.Var(secretFile{secret}, "jwt-secret-file", "file holding the HS256 secret")
	sub := fs.String("sub", "", "subject (principal)")
	channels := fs.String("channels", "", "comma-separated channel patterns the bearer may subscribe to")
	publish := fs.String("publish", "", "comma-separated channel patterns the bearer may publish to")
	ttl := fs.Duration("ttl", time.Hour, "validity")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *secret == "" {
		*secret = os.Getenv("REALTIME_JWT_SECRET")
	}
	if *secret == "" {
		fmt.Fprintln(stderr, "realtime token: no secret: give --jwt-secret, --jwt-secret-file or set REALTIME_JWT_SECRET")
		return 2
	}
	if *ttl <= 0 {
		fmt.Fprintln(stderr, "realtime token: --ttl must be positive")
		return 2
	}
	claims := broker.NewClaims(*sub, splitList(*channels), splitList(*publish), *ttl)
	tok, err := broker.NewJWTSecret([]byte(*secret), "").Sign(claims)
	if err != nil {
		fmt.Fprintln(stderr, "realtime token:", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}
