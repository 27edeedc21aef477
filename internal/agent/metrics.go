package agent

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/esep-kz/esep/internal/spool"
	"github.com/esep-kz/esep/internal/uplink"
)

// metrics exposes the scheduler's, the spool's and the uplink's counters
// to Prometheus. It reads them at each scrape, so the hot paths keep
// their own counters and pay nothing for the export.
type metrics struct {
	sched  *Scheduler
	spool  *spool.Spool   // nil without an uplink
	sink   *SpoolSink     // nil without an uplink
	uplink *uplink.Uplink // nil without an uplink
	now    func() time.Time
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("esep_agent_"+name, help, labels, nil)
}

var (
	descPolls = desc("polls_total", "Slots of each meter by what became of them: "+
		"ok, error, skipped (a poll overran it), backoff (an offline meter probed less often).",
		"meter", "result")
	descRetries = desc("poll_retries_total", "Attempts after a failed one within a slot.",
		"meter")
	descOffline = desc("meter_offline", "1 while the meter is declared offline.", "meter")

	descPending   = desc("spool_pending_records", "Readings and events not yet delivered.")
	descPendBytes = desc("spool_pending_bytes", "Bytes of the records not yet delivered.")
	descOldest    = desc("spool_oldest_pending_age_seconds",
		"Age of the oldest record not yet delivered; 0 when none.")
	descSpoolBytes = desc("spool_bytes", "Bytes of all records kept, against the cap.")
	descThinned    = desc("spool_thinned_total", "Unsent readings thinned to make room.")
	descDropped    = desc("spool_dropped_total", "Unsent records dropped to make room.")
	descHistDrop   = desc("spool_history_dropped_total",
		"Delivered records removed from the resend history before their time.")
	descLost = desc("spool_lost_total", "Records that could not be spooled at all.")

	descConnected = desc("uplink_connected", "1 while the MQTT session is up.")
	descReconn    = desc("uplink_reconnects_total", "MQTT connections made after the first.")
	descConnFail  = desc("uplink_failures_total", "MQTT connection attempts and sessions that failed.")
	descPublished = desc("uplink_published_records_total",
		"Records published, resends included.")
	descAcked   = desc("uplink_acked_records_total", "Records acknowledged by the broker.")
	descLatency = desc("uplink_puback_latency_seconds",
		"Publish to PUBACK of batches: the last, the mean and the largest.", "stat")
)

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPolls, descRetries, descOffline, descPending,
		descPendBytes, descOldest, descSpoolBytes, descThinned, descDropped, descHistDrop,
		descLost, descConnected, descReconn, descConnFail, descPublished, descAcked,
		descLatency} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}

	for id, st := range m.sched.Stats() {
		counter(descPolls, float64(st.OK), id, "ok")
		counter(descPolls, float64(st.Error), id, "error")
		counter(descPolls, float64(st.Skipped), id, "skipped")
		counter(descPolls, float64(st.Backoff), id, "backoff")
		counter(descRetries, float64(st.Retries), id)
		gauge(descOffline, boolValue(st.Offline), id)
	}
	if m.spool == nil {
		return
	}

	st := m.spool.Stats()
	gauge(descPending, float64(st.Pending))
	gauge(descPendBytes, float64(st.PendingBytes))
	age := 0.0
	if !st.OldestPending.IsZero() {
		age = max(m.now().Sub(st.OldestPending).Seconds(), 0)
	}
	gauge(descOldest, age)
	gauge(descSpoolBytes, float64(st.Bytes))
	counter(descThinned, float64(st.Thinned))
	counter(descDropped, float64(st.Dropped))
	counter(descHistDrop, float64(st.HistoryDropped))
	lost, _ := m.sink.Failures()
	counter(descLost, float64(lost))

	us := m.uplink.Status()
	gauge(descConnected, boolValue(us.Connected))
	counter(descReconn, float64(us.Reconnects))
	counter(descConnFail, float64(us.Failures))
	counter(descPublished, float64(us.PublishedRecords))
	counter(descAcked, float64(us.AckedRecords))
	gauge(descLatency, us.LastLatency.Seconds(), "last")
	gauge(descLatency, us.MeanLatency.Seconds(), "mean")
	gauge(descLatency, us.MaxLatency.Seconds(), "max")
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
