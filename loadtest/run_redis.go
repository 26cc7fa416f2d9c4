package main

import (
	"fmt"
	"os"
	"time"

	"github.com/workkit/realtime/loadtest/load"
)

// startRealtimeOnRedis starts realtime as startRealtime does; with
// --with-redis it first starts a Redis for it, passes --redis and names
// the Redis processes in the target (their CPU is reported apart). The
// returned function stops that Redis (it does nothing without one).
func (o *options) startRealtimeOnRedis(sc scenario) (*load.Server, string, func(), error) {
	none := func() {}
	if o.withRedis == "" {
		srv, dropped, err := o.startRealtime(sc, nil)
		return srv, dropped, none, err
	}
	if o.withRedis != "single" && o.withRedis != "cluster" {
		return nil, "", none, fmt.Errorf("--with-redis %q: want single or cluster", o.withRedis)
	}
	r, err := load.StartRedis(o.withRedis == "cluster", o.logDir)
	if err != nil {
		return nil, "", none, err
	}
	stop := func() {
		if err := r.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest: stop redis:", err)
		}
	}
	srv, dropped, err := o.startRealtime(sc, []string{"--redis", r.URL()})
	if err == nil {
		err = load.WaitReady(&srv.Target, 15*time.Second)
	}
	if err != nil {
		if srv != nil {
			_ = srv.Stop()
		}
		stop()
		return nil, "", none, err
	}
	srv.Target.Redis = r.PIDs()
	return srv, dropped, stop, nil
}
