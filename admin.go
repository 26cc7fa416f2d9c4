package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
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
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
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
