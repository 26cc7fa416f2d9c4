package redisengine

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// engineStats are the engine's counters; safe for concurrent use.
type engineStats struct {
	publishes        atomic.Uint64 // events Redis assigned an id to
	publishErrors    atomic.Uint64 // publishes Redis refused or did not answer in time
	joins            atomic.Uint64 // mirrors built from a history
	repairs          atomic.Uint64 // mirrors brought up to date after missed events
	repairErrors     atomic.Uint64 // repairs that could not read the history
	gaps             atomic.Uint64 // pub/sub messages found missing (an id gap)
	pubsubReconnects atomic.Uint64 // pub/sub connections lost and made again
	deaf             atomic.Uint64 // ... of which replaced because they delivered nothing, not even a probe
	badMessages      atomic.Uint64 // pub/sub messages that did not parse
	connectErrors    atomic.Uint64 // failed attempts to connect at start
	upkeepErrors     atomic.Uint64 // lease, count or TTL writes that failed
	ctlTimeouts      atomic.Uint64 // presence, disconnect and delete requests some leased node did not answer in time
}

var (
	descUp         = desc("up", "1 when Redis answers pings within the timeout and every pub/sub partition is subscribed (GET /readyz).")
	descPartsUp    = desc("pubsub_partitions_up", "Pub/sub partitions whose connection is up and subscribed.")
	descMirrors    = desc("mirrors", "Channels this node mirrors from Redis.")
	descRTT        = desc("rtt_seconds", "Round trip of the last readiness ping.")
	descPublishes  = desc("publishes_total", "Events Redis assigned an id to through this node.")
	descPubErrors  = desc("publish_errors_total", "Publishes Redis refused or did not answer within --redis-timeout (answered 503).")
	descJoins      = desc("joins_total", "Mirrors built from a channel's history.")
	descRepairs    = desc("repairs_total", "Mirrors brought up to date from history after missed pub/sub messages, a reconnect or a new incarnation.")
	descRepairErrs = desc("repair_errors_total", "Repairs that could not read the history (retried).")
	descGaps       = desc("pubsub_gaps_total", "Pub/sub messages found missing by an id gap (pub/sub drops), each repaired.")
	descReconnects = desc("pubsub_reconnects_total", "Pub/sub connections lost and made again.")
	descDeaf       = desc("pubsub_deaf_total", "Pub/sub connections replaced because they delivered nothing, not even a probe.")
	descBadMsgs    = desc("pubsub_bad_messages_total", "Pub/sub messages that did not parse.")
	descUpkeepErrs = desc("upkeep_errors_total", "Lease, subscriber count or TTL writes that failed.")
	descCtlTimeout = desc("control_timeouts_total", "Presence, disconnect and delete requests that some node holding a lease did not answer within a second (answered with the others).")
	descQueued     = desc("queued_publishes", "Publishes waiting for a publisher goroutine.")
)

func desc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("realtime_redis_"+name, help, nil, nil)
}

var allDescs = []*prometheus.Desc{descUp, descPartsUp, descMirrors, descRTT, descPublishes, descPubErrors, descJoins,
	descRepairs, descRepairErrs, descGaps, descReconnects, descDeaf, descBadMsgs, descUpkeepErrs, descCtlTimeout, descQueued}

// Describe implements prometheus.Collector: the broker registers the
// engine's metrics beside its own.
func (e *Engine) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (e *Engine) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter := func(d *prometheus.Desc, v *atomic.Uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v.Load()))
	}
	up, parts := 0.0, 0.0
	if e.Ready() {
		up = 1
	}
	for _, p := range e.parts {
		if p.up.Load() {
			parts++
		}
	}
	gauge(descUp, up)
	gauge(descPartsUp, parts)
	gauge(descMirrors, float64(e.mirrors.Size()))
	gauge(descRTT, time.Duration(e.rtt.Load()).Seconds())
	s := &e.stats
	counter(descPublishes, &s.publishes)
	counter(descPubErrors, &s.publishErrors)
	counter(descJoins, &s.joins)
	counter(descRepairs, &s.repairs)
	counter(descRepairErrs, &s.repairErrors)
	counter(descGaps, &s.gaps)
	counter(descReconnects, &s.pubsubReconnects)
	counter(descDeaf, &s.deaf)
	counter(descBadMsgs, &s.badMessages)
	counter(descUpkeepErrs, &s.upkeepErrors)
	counter(descCtlTimeout, &s.ctlTimeouts)
	gauge(descQueued, float64(e.pubq.len()))
}
