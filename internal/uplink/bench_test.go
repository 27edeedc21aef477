package uplink

import (
	"fmt"
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

// backlog14Days is 14 days of 250 meters read every 15 minutes: what a
// building's spool holds after a two-week outage of its uplink.
const backlog14Days = 250 * 96 * 14

// BenchmarkDrain14Days drains a spool holding backlog14Days readings
// through Mosquitto on this machine to a subscriber, each iteration a
// whole backlog, and reports how long it took against the goal of a
// minute.
func BenchmarkDrain14Days(b *testing.B) {
	m := testkit.StartMosquitto(b, testkit.MosquittoOptions{MaxQueuedMessages: -1})
	c := testConfig(m)
	c.BatchItems = 50
	for b.Loop() {
		b.StopTimer()
		sub := newSubscriber(b, m, subSpec{})
		sp := openSpool(b)
		for left := backlog14Days; left > 0; left -= 1000 {
			appendSpool(b, sp, min(left, 1000))
		}
		b.StartTimer()

		start := time.Now()
		_, stop := runUplink(b, c, sp, testOptions(nil))
		// Past the goal the figure is still worth printing: wait longer
		// than waitFor would.
		for sub.distinct() < backlog14Days || !spoolDrained(sp)() {
			if time.Since(start) > 10*time.Minute {
				b.Fatalf("%d of %d readings after 10 minutes", sub.distinct(), backlog14Days)
			}
			time.Sleep(10 * time.Millisecond)
		}
		took := time.Since(start)
		stop()

		b.ReportMetric(took.Seconds(), "s/backlog")
		fmt.Printf("REPORT: uplink drain of %d readings (14 days of 250 meters at 15 min) "+
			"through Mosquitto: %.1f s, %.0f readings/s (goal < 60 s)\n",
			backlog14Days, took.Seconds(), backlog14Days/took.Seconds())
	}
}
