// Command realtime is an SSE broadcast server: browsers subscribe to a
// channel with GET /sse/{channel}, back ends publish with POST
// /publish/{channel}, and every live subscriber receives the event. See
// README.md and SPEC.
//
// main maps flags and REALTIME_* variables onto broker.Config, installs
// signal handling, and wires the listeners; it holds no logic of its own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/workkit/realtime/broker"
	"github.com/workkit/realtime/channel"
	"github.com/workkit/realtime/redisengine"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "token":
			os.Exit(runToken(os.Args[2:], os.Stdout, os.Stderr))
		case "checktoken":
			os.Exit(runCheckToken(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
		}
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run starts the server and blocks until a signal stopped it.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("realtime", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := broker.DefaultConfig()
	bindFlags(fs, &cfg)
	if err := parseFlags(fs, args); err != nil {
		return 2
	}
	log := newLogger(cfg.LogFormat, stderr)
	eng, err := newEngine(cfg, log)
	if err != nil {
		log.Error("invalid configuration", "err", err)
		return 2
	}
	b, err := broker.New(cfg, log, eng)
	if err != nil {
		log.Error("invalid configuration", "err", err)
		return 2
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		log.Error("listen", "addr", cfg.Addr, "err", err)
		return 1
	}
	admin, err := startAdmin(cfg.AdminAddr, b, log)
	if err != nil {
		log.Error("admin listener", "addr", cfg.AdminAddr, "err", err)
		return 1
	}
	if cfg.Auth == "none" {
		log.Warn("--auth none: anyone may subscribe and publish; for development only")
	}
	engine := "memory"
	if cfg.Redis != "" {
		engine = "redis " + redisengine.Redacted(cfg.Redis)
	}
	log.Info("realtime listening", "addr", ln.Addr().String(), "admin", cfg.AdminAddr, "auth", cfg.Auth,
		"max_conns", cfg.Loop.MaxConns, "engine", engine)
	printWelcome(stdout, b, ln.Addr())

	served := make(chan error, 1)
	go func() { served <- b.Serve(ln) }()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	select {
	case sig := <-sigs:
		log.Info("shutting down", "signal", sig.String(), "timeout", cfg.ShutdownTimeout.String())
	case err := <-served:
		log.Error("server stopped", "err", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = b.Shutdown(ctx)
	if admin != nil {
		_ = admin.Shutdown(ctx)
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Error("shutdown", "err", err)
		return 1
	}
	log.Info("stopped", "forced", err != nil)
	return 0
}

// newEngine returns the engine of cfg: the Redis engine with --redis, else
// nil (the broker's embedded memory engine).
func newEngine(cfg broker.Config, log *slog.Logger) (channel.Engine, error) {
	if cfg.Redis == "" {
		return nil, nil
	}
	rc := redisengine.DefaultConfig()
	rc.URL, rc.Timeout, rc.Channel = cfg.Redis, cfg.RedisTimeout, cfg.Channel
	return redisengine.New(rc, log)
}

// printWelcome prints, when the JWT secret is ephemeral, a subscriber and
// a publisher token and the curl lines that use them (SPEC 2).
func printWelcome(w io.Writer, b *broker.Broker, addr net.Addr) {
	if !b.EphemeralSecret() {
		return
	}
	sub, err1 := b.JWT().Sign(broker.NewClaims("dev-subscriber", []string{"*"}, nil, 24*time.Hour))
	pub, err2 := b.JWT().Sign(broker.NewClaims("dev-publisher", nil, []string{"*"}, 24*time.Hour))
	if err1 != nil || err2 != nil {
		return
	}
	base := "http://localhost:" + portOf(addr)
	fmt.Fprintf(w, `
No --jwt-secret given: using an ephemeral one. These tokens work until this process exits (24h at most).

  subscriber token: %s
  publisher token:  %s

Subscribe (in one terminal):
  curl -N -H 'Authorization: Bearer %s' %s/sse/demo

Publish (in another):
  curl -X POST -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
    -d '{"event":"greeting","data":{"hello":"world"}}' %s/publish/demo

`, sub, pub, sub, base, pub, base)
}

func portOf(a net.Addr) string {
	_, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "8080"
	}
	return port
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
