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
	polls     atomic.Uint64 // polls answered or parked
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
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("realtime_"+name, help, labels, nil)
}

// Describe implements prometheus.Collector.
func (m *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConns, descAccepted, descStreams, descChannels, descPublishes,
		descDeliveries, descBytes, descWrites, descFramesOut, descStalls, descHeartbeats, descReplays,
		descResets, descDisconnects, descDenied, descEvictions, descPolls} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *collector) Collect(ch chan<- prometheus.Metric) {
	ls, rs, bs := m.b.srv.Stats(), m.b.reg.Stats(), &m.b.stats
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descConns, float64(ls.Open.Load()))
	counter(descAccepted, ls.Accepted.Load())
	gauge(descStreams, float64(ls.Streams.Load()))
	gauge(descChannels, float64(m.b.reg.Len()))
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
	counter(descEvictions, m.b.reg.Evictions())
	counter(descPolls, bs.polls.Load())
}
