package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/workkit/realtime/broker"
)

// runToken implements `realtime token`: it prints a JWT, alone on stdout,
// for tests and scripts: HS256, signed with the configured secret
// (--jwt-secret, --jwt-secret-file or REALTIME_JWT_SECRET), or signed with
// a PKCS#8 PEM private key (--jwt-private-key): RS256 for RSA, ES256 for
// ECDSA P-256, EdDSA for Ed25519.
func runToken(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("realtime token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	secret := fs.String("jwt-secret", "", "HS256 secret (default $REALTIME_JWT_SECRET)")
	fs.Var(secretFile{secret}, "jwt-secret-file", "file holding the HS256 secret")
	keyFile := fs.String("jwt-private-key", "", "PKCS#8 PEM private key file, instead of a secret: RS256 (RSA), ES256 (P-256) or EdDSA (Ed25519)")
	kid := fs.String("kid", "", "key id put in the header (selects the key of a JWKS)")
	sub := fs.String("sub", "", "subject (principal)")
	iss := fs.String("iss", "", "issuer")
	var aud []string
	fs.Var(appendList{&aud}, "aud", "audience (repeatable, or a comma-separated list)")
	channels := fs.String("channels", "", "comma-separated channel patterns the bearer may subscribe to")
	publish := fs.String("publish", "", "comma-separated channel patterns the bearer may publish to")
	ttl := fs.Duration("ttl", time.Hour, "validity")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "realtime token: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *keyFile != "" && *secret != "" {
		fmt.Fprintln(stderr, "realtime token: give a secret or --jwt-private-key, not both")
		return 2
	}
	if *keyFile == "" && *secret == "" {
		*secret = os.Getenv("REALTIME_JWT_SECRET")
	}
	var key any = []byte(*secret)
	if *keyFile != "" {
		var err error
		if key, err = broker.ReadPrivateKey(*keyFile); err != nil {
			fmt.Fprintln(stderr, "realtime token: --jwt-private-key:", err)
			return 2
		}
	} else if *secret == "" {
		fmt.Fprintln(stderr, "realtime token: no key: give --jwt-secret, --jwt-secret-file, --jwt-private-key or set REALTIME_JWT_SECRET")
		return 2
	}
	if *ttl <= 0 {
		fmt.Fprintln(stderr, "realtime token: --ttl must be positive")
		return 2
	}
	claims := broker.NewClaims(*sub, splitList(*channels), splitList(*publish), *ttl)
	claims.Issuer = *iss
	claims.Audience = aud
	tok, err := broker.SignWith(key, *kid, claims)
	if err != nil {
		fmt.Fprintln(stderr, "realtime token:", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}

// appendList is a flag that may be repeated, each value a comma-separated
// list.
type appendList struct{ v *[]string }

func (l appendList) String() string { return list(l).String() }

func (l appendList) Set(s string) error { *l.v = append(*l.v, splitList(s)...); return nil }
