package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/workkit/realtime/broker"
)

// adminServer is the admin listener: /healthz, /debug/pprof/ and /metrics.
type adminServer struct{ srv *http.Server }

// startAdmin serves the admin endpoints on addr; empty addr disables them.
func startAdmin(addr string, b *broker.Broker, log *slog.Logger) (*adminServer, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !b.Ready() {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "not ready: the engine cannot reach its store", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", redactedCmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/metrics", b.MetricsHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Error("admin listener stopped", "err", err)
		}
	}()
	return &adminServer{srv: srv}, nil
}

// Shutdown stops the admin listener.
func (a *adminServer) Shutdown(ctx context.Context) error { return a.srv.Shutdown(ctx) }

// secretFlags are the flags whose values /debug/pprof/cmdline must not show.
var secretFlags = map[string]bool{"jwt-secret": true, "jwt-secret-previous": true, "publish-key": true,
	"events-secret": true, "redis": true} // a Redis URL may carry a password

// redactedCmdline serves what pprof's cmdline handler does — the command
// line, NUL-separated — with the values of secret flags replaced.
func redactedCmdline(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, strings.Join(redactArgs(os.Args), "\x00"))
}

// redactArgs returns args with the value of every secret flag (given as
// -name value, --name value, -name=value or --name=value) replaced by
// "[redacted]".
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i := 1; i < len(out); i++ {
		name, _, hasValue := strings.Cut(strings.TrimLeft(out[i], "-"), "=")
		if !strings.HasPrefix(out[i], "-") || !secretFlags[name] {
			continue
		}
		if hasValue {
			out[i] = out[i][:strings.IndexByte(out[i], '=')+1] + "[redacted]"
		} else if i+1 < len(out) {
			out[i+1] = "[redacted]"
			i++
		}
	}
	return out
}
