package uplink

import (
	"testing"
	"time"

	"github.com/esep-kz/esep/internal/testkit"
)

// BenchmarkThroughput drains b.N readings (about 140 bytes each as
// wire.EncodeReading writes them) from a spool that holds them all, as
// after an outage, through Mosquitto on this machine to a subscriber
// that decodes them, in gzip batches of 50, and reports readings per
// second end to end. The goal of issue 4 is that a backlog of 336 000
// readings drains through a recovered uplink in under a minute, that is
// at least 5600 readings/s; run it as -bench Throughput -benchtime 336000x.
func BenchmarkThroughput(b *testing.B) {
	m := testkit.StartMosquitto(b, testkit.MosquittoOptions{MaxQueuedMessages: -1})
	sub := newSubscriber(b, m, subSpec{})
	sp := openSpool(b)
	for left := b.N; left > 0; left -= 1000 {
		appendSpool(b, sp, min(left, 1000))
	}
	c := testConfig(m)
	c.BatchItems = 50

	b.ResetTimer()
	start := time.Now()
	u, stop := runUplink(b, c, sp, testOptions(nil))
	waitFor(b, "every reading at the subscriber", func() bool {
		return sub.distinct() == b.N && spoolDrained(sp)()
	})
	took := time.Since(start)
	b.StopTimer()
	stop()

	b.ReportMetric(float64(b.N)/took.Seconds(), "readings/s")
	b.ReportMetric(float64(u.Status().MeanLatency.Microseconds()), "µs/batch-ack")
}
