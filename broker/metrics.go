package broker

import (
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/workkit/realtime/loop"
)

// brokerStats are the broker's own counters; the reactor's and the
// registry's live in loop.Stats and channel.Stats.
type brokerStats struct {
	denied401 atomic.Uint64 // subscribes, polls and publishes refused 401
	denied403 atomic.Uint64 // ... refused 403
	denied503 atomic.Uint64 // ... refused 503: the authorizer failed, timed out or was at capacity
	authBusy  atomic.Uint64 // of those, no authorizer slot free within --auth-timeout
	polls     atomic.Uint64 // polls answered or parked
	parked    atomic.Int64  // long-polls parked now
}

// MetricsHandler serves the Prometheus metrics of the admin listener. The
// values are read from the counters at scrape time: nothing is recorded on
// the hot path but atomic increments. No metric has a per-channel label.
func (b *Broker) MetricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&collector{b: b},
	)
	if ec, ok := b.eng.(prometheus.Collector); ok { // an engine's own metrics (the Redis engine's)
		reg.MustRegister(ec)
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// collector exports the counters of the broker, the registry and the loop.
type collector struct{ b *Broker }

var (
	descConns       = desc("connections", "Open client connections.")
	descAccepted    = desc("connections_accepted_total", "Connections accepted.")
	descStreams     = desc("subscribers", "Open event streams.")
	descChannels    = desc("channels", "Live channels.")
	descPublishes   = desc("publishes_total", "Events published.")
	descDeliveries  = desc("deliveries_total", "Event frames queued to subscribers by publishes.")
	descBytes       = desc("bytes_written_total", "Bytes written to client sockets.")
	descWrites      = desc("write_syscalls_total", "sendmsg calls that wrote bytes.")
	descFramesOut   = desc("frames_written_total", "Frames fully written; divided by write_syscalls_total: frames per write.")
	descStalls      = desc("write_stalls_total", "Writes that found a full socket buffer.")
	descHeartbeats  = desc("heartbeats_total", "Heartbeat comments queued.")
	descReplays     = desc("replays_total", "Subscribes that replayed buffered events.")
	descResets      = desc("resets_total", "realtime.reset frames sent, by reason.", "reason")
	descDisconnects = desc("disconnects_total", "Connections closed, by reason.", "reason")
	descDenied      = desc("auth_denied_total", "Requests refused by authorization, by status.", "status")
	descEvictions   = desc("channel_evictions_total", "Channels evicted after --channel-idle-ttl.")
	descPolls       = desc("polls_total", "Poll requests answered or held.")
	descParked      = desc("polls_parked", "Long-polls waiting for an event now (not subscribers: SPEC 3.5).")
	descRefused     = desc("channels_refused_total", "Channels not created because --max-channels was reached (answered 503).")
	descBuffered    = desc("replay_buffered_bytes", "Memory held by the replay buffers of all channels (--replay-memory bounds it).")
	descDropped     = desc("replay_dropped_total", "Buffered events dropped to keep within --replay-memory.")
	descAuthBusy    = desc("auth_busy_total", "Authorizations refused 503 because no authorizer slot freed within --auth-timeout.")
	descLcEvents    = desc("lifecycle_events_total", "Channel lifecycle webhook events (--events-url), by result: sent (in a batch answered 2xx) or dropped (the queue was full).", "result")
	descLcFailures  = desc("lifecycle_post_failures_total", "Lifecycle webhook POSTs that failed (non-2xx, error, timeout, redirect) and were retried.")
	descLcQueued    = desc("lifecycle_queued_events", "Lifecycle webhook events waiting to be sent.")
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("realtime_"+name, help, labels, nil)
}

// Describe implements prometheus.Collector.
func (m *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConns, descAccepted, descStreams, descChannels, descPublishes,
		descDeliveries, descBytes, descWrites, descFramesOut, descStalls, descHeartbeats, descReplays,
		descResets, descDisconnects, descDenied, descEvictions, descPolls, descParked, descRefused, descBuffered, descDropped,
		descAuthBusy, descLcEvents, descLcFailures, descLcQueued} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *collector) Collect(ch chan<- prometheus.Metric) {
	ec := m.b.eng.Counters()
	ls, rs, bs := m.b.srv.Stats(), ec.Stats, &m.b.stats
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descConns, float64(ls.Open.Load()))
	counter(descAccepted, ls.Accepted.Load())
	gauge(descStreams, float64(ls.Streams.Load()))
	gauge(descChannels, float64(ec.Channels))
	counter(descPublishes, rs.Publishes.Load())
	counter(descDeliveries, rs.Deliveries.Load())
	counter(descBytes, ls.BytesOut.Load())
	counter(descWrites, ls.Writes.Load())
	counter(descFramesOut, ls.FramesOut.Load())
	counter(descStalls, ls.Stalls.Load())
	counter(descHeartbeats, ls.Heartbeats.Load())
	counter(descReplays, rs.Replays.Load())
	counter(descResets, rs.ResetsGap.Load(), "buffer_gap")
	counter(descResets, rs.ResetsOverrun.Load(), "buffer_overrun")
	for _, r := range loop.CloseReasons() {
		counter(descDisconnects, ls.Closed(r), r.String())
	}
	counter(descDenied, bs.denied401.Load(), "401")
	counter(descDenied, bs.denied403.Load(), "403")
	counter(descDenied, bs.denied503.Load(), "503")
	counter(descEvictions, ec.Evictions)
	counter(descPolls, bs.polls.Load())
	gauge(descParked, float64(bs.parked.Load()))
	counter(descRefused, rs.Refused.Load())
	gauge(descBuffered, float64(ec.BufferedBytes))
	counter(descDropped, rs.Dropped.Load())
	counter(descAuthBusy, bs.authBusy.Load())
	if e := m.b.events; e != nil {
		st := e.Stats()
		counter(descLcEvents, st.Sent, "sent")
		counter(descLcEvents, st.Dropped, "dropped")
		counter(descLcFailures, st.Failed)
		gauge(descLcQueued, float64(st.Queued))
	}
}
