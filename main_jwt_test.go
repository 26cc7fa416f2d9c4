package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The token tools and the JWT options, with the binary: key files,
// checktoken, a JWKS endpoint.

// writeKeyPair writes priv as a PKCS#8 PEM file and its public half as a
// PKIX PEM file, in dir.
func writeKeyPair(t *testing.T, dir, name string, priv crypto.Signer) (privFile, pubFile string) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	privFile, pubFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".pub.pem")
	if err := os.WriteFile(privFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return privFile, pubFile
}

// cleanEnv is the environment without REALTIME_* variables, plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REALTIME_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// checkToken runs `realtime checktoken args...` and returns its stdout,
// stderr and exit code.
func checkToken(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"checktoken"}, args...)...)
	cmd.Env = cleanEnv(env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

// jwtPart decodes part i (0 header, 1 claims) of a token.
func jwtPart(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTokenCheckTokenRoundTrips: `realtime token` signs with a secret or a
// PKCS#8 private key (the algorithm follows the key type) and `realtime
// checktoken` verifies with the server's flags: the claims on stdout and
// exit 0, or "refused: <reason>" and exit 1.
func TestTokenCheckTokenRoundTrips(t *testing.T) {
	dir := t.TempDir()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	rsaPriv, rsaPub := writeKeyPair(t, dir, "rsa", rsaKey)
	ecPriv, ecPub := writeKeyPair(t, dir, "ec", ecKey)
	edPriv, edPub := writeKeyPair(t, dir, "ed", edKey)
	kinds := []struct {
		alg         string
		sign, check []string
	}{
		{"HS256", []string{"--jwt-secret", "s3cret"}, []string{"--jwt-secret", "s3cret"}},
		{"RS256", []string{"--jwt-private-key", rsaPriv}, []string{"--jwt-public-key", rsaPub}},
		{"ES256", []string{"--jwt-private-key", ecPriv}, []string{"--jwt-public-key", ecPub}},
		{"EdDSA", []string{"--jwt-private-key", edPriv}, []string{"--jwt-public-key", edPub}},
	}
	expired := map[string]string{}
	for _, k := range kinds {
		expired[k.alg] = tokenFor(t, append(k.sign, "--sub", "u", "--ttl", "1s")...)
	}
	madeExpired := time.Now()
	for _, k := range kinds {
		t.Run(k.alg, func(t *testing.T) {
			tok := tokenFor(t, append(k.sign, "--sub", "u1", "--channels", "a,b:*", "--publish", "p", "--iss", "https://idp.example",
				"--aud", "x", "--aud", "y,z", "--kid", "key-1")...)
			if h := jwtPart(t, tok, 0); h["alg"] != k.alg || h["kid"] != "key-1" {
				t.Fatalf("header %v, want alg %s and kid key-1", h, k.alg)
			}
			out, errOut, code := checkToken(t, nil, append(k.check, "--jwt-issuer", "https://idp.example", "--jwt-audience", "y", tok)...)
			if code != 0 {
				t.Fatalf("checktoken: exit %d: %s", code, errOut)
			}
			var claims struct {
				Sub      string   `json:"sub"`
				Iss      string   `json:"iss"`
				Aud      []string `json:"aud"`
				Exp      int64    `json:"exp"`
				Channels []string `json:"channels"`
				Publish  []string `json:"publish"`
			}
			if err := json.Unmarshal([]byte(out), &claims); err != nil {
				t.Fatalf("checktoken's stdout is not the claims: %q", out)
			}
			if claims.Sub != "u1" || claims.Iss != "https://idp.example" || strings.Join(claims.Aud, ",") != "x,y,z" ||
				strings.Join(claims.Channels, ",") != "a,b:*" || strings.Join(claims.Publish, ",") != "p" || claims.Exp < time.Now().Unix() {
				t.Fatalf("claims %+v", claims)
			}
			refused := func(reason string, args ...string) {
				t.Helper()
				out, errOut, code := checkToken(t, nil, args...)
				if code != 1 || out != "" || !strings.HasPrefix(errOut, "refused: "+reason) {
					t.Fatalf("checktoken %v: exit %d, stdout %q, stderr %q; want exit 1 and refused: %s", args, code, out, errOut, reason)
				}
			}
			// The claims changed after signing (sub u1 -> u2).
			parts := strings.Split(tok, ".")
			raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
			parts[1] = base64.RawURLEncoding.EncodeToString(bytes.Replace(raw, []byte(`"u1"`), []byte(`"u2"`), 1))
			refused("bad signature", append(k.check, strings.Join(parts, "."))...)
			refused("wrong issuer", append(k.check, "--jwt-issuer", "https://other.example", tok)...)
			refused("wrong audience", append(k.check, "--jwt-audience", "w", tok)...)
			refused("malformed", append(k.check, tok[:strings.LastIndexByte(tok, '.')])...)
			time.Sleep(time.Until(madeExpired.Add(1100 * time.Millisecond)))
			refused("expired", append(k.check, expired[k.alg])...)
		})
	}
	// A key of one type does not verify another's algorithm.
	esTok := tokenFor(t, "--jwt-private-key", ecPriv, "--sub", "u")
	if _, errOut, code := checkToken(t, nil, "--jwt-public-key", rsaPub, esTok); code != 1 || !strings.HasPrefix(errOut, "refused: alg not allowed") {
		t.Fatalf("ES256 token against an RSA key: exit %d %q", code, errOut)
	}
	if _, errOut, code := checkToken(t, nil, "--jwt-secret", "s3cret", esTok); code != 1 || !strings.HasPrefix(errOut, "refused: alg not allowed") {
		t.Fatalf("ES256 token against a secret: exit %d %q", code, errOut)
	}
	// The secret of a rotation: accepted only as --jwt-secret-previous (or its variable).
	old := tokenFor(t, "--jwt-secret", "old-secret", "--sub", "u")
	if _, errOut, code := checkToken(t, nil, "--jwt-secret", "new-secret", old); code != 1 || !strings.HasPrefix(errOut, "refused: bad signature") {
		t.Fatalf("old secret without --jwt-secret-previous: exit %d %q", code, errOut)
	}
	if _, errOut, code := checkToken(t, nil, "--jwt-secret", "new-secret", "--jwt-secret-previous", "old-secret", old); code != 0 {
		t.Fatalf("old secret with --jwt-secret-previous: exit %d %q", code, errOut)
	}
	if _, errOut, code := checkToken(t, []string{"REALTIME_JWT_SECRET=new-secret", "REALTIME_JWT_SECRET_PREVIOUS=old-secret"}, old); code != 0 {
		t.Fatalf("old secret with REALTIME_JWT_SECRET_PREVIOUS: exit %d %q", code, errOut)
	}
	// The flag wins over the variable, as for the server.
	if _, _, code := checkToken(t, []string{"REALTIME_JWT_SECRET=old-secret"}, "--jwt-secret", "new-secret", old); code != 1 {
		t.Fatalf("--jwt-secret did not win over REALTIME_JWT_SECRET: exit %d", code)
	}
	// Usage errors.
	for _, args := range [][]string{{"--jwt-secret", "s"}, {old}, {"--jwt-secret", "s", old, "extra"}, {"--nope", old}} {
		if _, _, code := checkToken(t, nil, args...); code != 2 {
			t.Fatalf("checktoken %v: exit %d, want 2", args, code)
		}
	}
	cmd := exec.Command(binary, "token", "--jwt-secret", "s", "--jwt-private-key", ecPriv)
	if err := cmd.Run(); cmd.ProcessState.ExitCode() != 2 {
		t.Fatalf("token with a secret and a private key: %v", err)
	}
	cmd = exec.Command(binary, "token", "--jwt-private-key", ecPub)
	if err := cmd.Run(); cmd.ProcessState.ExitCode() != 2 {
		t.Fatalf("token with a public key as --jwt-private-key: %v", err)
	}
}

// jwkOf renders a public key as a JWK.
func jwkOf(kid string, pub crypto.PublicKey) map[string]string {
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		e, _ := k.ECDH()
		raw := e.Bytes()
		return map[string]string{"kty": "EC", "kid": kid, "use": "sig", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:])}
	case ed25519.PublicKey:
		return map[string]string{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(k)}
	}
	panic(fmt.Sprintf("jwkOf %T", pub))
}

// TestJWKSServer: the binary with --jwt-jwks-url and no secret prints no
// welcome tokens, accepts the IdP's tokens for subscribers and publishers
// (iss and aud checked), picks up a new key without a restart, and
// checktoken verifies against the same JWKS.
func TestJWKSServer(t *testing.T) {
	dir := t.TempDir()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ecPriv, _ := writeKeyPair(t, dir, "ec", ecKey)
	edPriv, _ := writeKeyPair(t, dir, "ed", edKey)
	var mu sync.Mutex
	keys := []map[string]string{jwkOf("ec-1", ecKey.Public())}
	idp := httptestServer(t, func(w http.ResponseWriter) {
		mu.Lock()
		defer mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	})
	jwtFlags := []string{"--jwt-jwks-url", idp + "/jwks.json", "--jwt-issuer", "https://idp.example", "--jwt-audience", "realtime"}
	p := start(t, cleanEnv(), jwtFlags...)
	if out := p.stdout.String(); strings.Contains(out, "token") {
		t.Fatalf("welcome tokens printed with a JWKS and no secret:\n%s", out)
	}
	idpFlags := []string{"--iss", "https://idp.example", "--aud", "realtime"}
	sub := tokenFor(t, append(idpFlags, "--jwt-private-key", ecPriv, "--kid", "ec-1", "--channels", "*")...)
	if _, _, st := sse(t, p.addr, "c", sub); st != 200 {
		t.Fatalf("subscriber with the IdP's token: %d", st)
	}
	pub := tokenFor(t, append(idpFlags, "--jwt-private-key", ecPriv, "--kid", "ec-1", "--publish", "*")...)
	publish := func(tok string) int {
		req, _ := http.NewRequest("POST", "http://"+p.addr+"/publish/c", strings.NewReader(`{"event":"e","data":1}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := publish(pub); st != 200 {
		t.Fatalf("publisher with the IdP's token: %d", st)
	}
	for name, tok := range map[string]string{
		"no aud":      tokenFor(t, "--iss", "https://idp.example", "--jwt-private-key", ecPriv, "--kid", "ec-1", "--channels", "*"),
		"another iss": tokenFor(t, "--iss", "https://evil.example", "--aud", "realtime", "--jwt-private-key", ecPriv, "--kid", "ec-1", "--channels", "*"),
		"HS256":       tokenFor(t, append(idpFlags, "--jwt-secret", "guess", "--channels", "*")...),
	} {
		if _, _, st := sse(t, p.addr, "c", tok); st != 401 {
			t.Fatalf("subscriber with %s: %d, want 401", name, st)
		}
	}
	// The IdP adds a key: no restart needed, the JWKS is fetched again for it.
	mu.Lock()
	keys = append(keys, jwkOf("ed-1", edKey.Public()))
	mu.Unlock()
	edSub := tokenFor(t, append(idpFlags, "--jwt-private-key", edPriv, "--kid", "ed-1", "--channels", "*")...)
	if _, _, st := sse(t, p.addr, "c", edSub); st != 200 {
		t.Fatalf("subscriber with the IdP's new key: %d", st)
	}
	if _, _, st := sse(t, p.addr, "c", tokenFor(t, append(idpFlags, "--jwt-private-key", ecPriv, "--kid", "nope", "--channels", "*")...)); st != 401 {
		t.Fatalf("subscriber with an unknown kid: %d, want 401", st)
	}
	if out, errOut, code := checkToken(t, nil, append(jwtFlags, edSub)...); code != 0 || !strings.Contains(out, `"channels"`) {
		t.Fatalf("checktoken with the JWKS: exit %d %s %s", code, out, errOut)
	}
	unknown := tokenFor(t, append(idpFlags, "--jwt-private-key", edPriv, "--kid", "ed-2")...)
	if _, errOut, code := checkToken(t, nil, append(jwtFlags, unknown)...); code != 1 || !strings.HasPrefix(errOut, "refused: unknown key") {
		t.Fatalf("checktoken of an unknown kid: exit %d %q", code, errOut)
	}
}

// httptestServer serves answer on a loopback port for the test's duration
// and returns its base URL.
func httptestServer(t *testing.T, answer func(http.ResponseWriter)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		answer(w)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestJWTFlagErrors: JWT settings that cannot work are refused at start
// (exit 2).
func TestJWTFlagErrors(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	_, pubFile := writeKeyPair(t, t.TempDir(), "k", key)
	for _, args := range [][]string{
		{"--jwt-public-key", pubFile, "--jwt-jwks-url", "http://127.0.0.1:1/jwks"},
		{"--jwt-secret", "s", "--jwt-public-key", pubFile},
		{"--jwt-jwks-url", "not a url"},
		{"--jwt-jwks-url", "ftp://idp.example/jwks"},
		{"--jwt-jwks-url", "http://127.0.0.1:1/jwks", "--jwt-jwks-refresh", "0s"},
		{"--jwt-secret-previous", "old"},
	} {
		cmd := exec.Command(binary, append([]string{"--addr", "127.0.0.1:0", "--admin-addr", ""}, args...)...)
		cmd.Env = cleanEnv()
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 2 {
			t.Fatalf("%v: exit %d, want 2\n%s", args, code, out)
		}
	}
}
