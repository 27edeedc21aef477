package tsdb

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/shopspring/decimal"

	"github.com/esep-kz/esep/internal/wire"
)

// checkStored checks that VictoriaMetrics holds exactly the numbers and
// times of b's readings, once each, and nothing else of b's agent.
func checkStored(t *testing.T, v *victoria, b wire.Batch) {
	t.Helper()
	type key struct{ name, meter string }
	want := map[key][]string{} // "ms=number" in time order
	for _, it := range b.Readings {
		for _, val := range it.Values {
			k := key{Measurement + "_" + string(val.Quantity), it.Meter}
			want[k] = append(want[k], fmt.Sprintf("%d=%s", it.Time.UnixMilli(), val.Number))
		}
	}
	got := v.Export(t, fmt.Sprintf(`{agent=%q}`, b.Agent))
	if len(got) != len(want) {
		t.Errorf("got %d series, want %d", len(got), len(want))
	}
	for _, s := range got {
		k := key{s.Metric["__name__"], s.Metric[TagMeter]}
		var samples []string
		for i, f := range s.Values {
			// The float's shortest decimal, as VictoriaMetrics gives it back.
			samples = append(samples, fmt.Sprintf("%d=%s", s.Timestamps[i], decimal.NewFromFloat(f)))
		}
		if fmt.Sprint(samples) != fmt.Sprint(want[k]) {
			t.Errorf("series %v: got %v, want %v", k, samples, want[k])
		}
	}
}

func TestWriteRoundTrip(t *testing.T) {
	v := startVictoria(t)
	w := newTestWriter(t, v.url, Options{BatchLines: 7}) // 30 readings: 5 requests
	b := batchOf(t, "bldg-0042", 10, 3)
	mustWrite(t, w, b)
	checkStored(t, v, b)
}

func TestRedeliveryOverwrites(t *testing.T) {
	v := startVictoria(t)
	w := newTestWriter(t, v.url, Options{})
	b := batchOf(t, "bldg-0042", 20, 4)
	mustWrite(t, w, b)
	mustWrite(t, w, b) // the ingestor crashed before its MQTT ack
	// Redelivered in other batches, as a resend answer would be.
	half := len(b.Readings) / 2
	mustWrite(t, w, wire.Batch{Agent: b.Agent, Readings: b.Readings[half:]})
	mustWrite(t, w, wire.Batch{Agent: b.Agent, Readings: b.Readings[:half]})

	want := len(b.Readings) * len(eight)
	if got := v.Count(t, `{agent="bldg-0042"}`); got != want {
		t.Errorf("after four deliveries got %d samples, want %d, one per value", got, want)
	}
	checkStored(t, v, b)
}

// TestEscaping writes tag keys, tag values and field keys with every
// character line protocol treats specially and reads them back.
func TestEscaping(t *testing.T) {
	v := startVictoria(t)
	w := newTestWriter(t, v.url, Options{})
	tests := []struct {
		name                     string
		tagKey, tagVal, fieldKey string
	}{
		{"plain", "meter", "apt-001-el", "voltage_v"},
		{"issue example", "meter", `кв 12, "A"=b\`, "voltage_v"},
		{"space", "room no", "кв 12", "voltage l1"},
		{"comma", "a,b", "1,2", "x,y"},
		{"equals", "a=b", "=1=", "x=y"},
		{"double quote", `a"b`, `"quoted"`, `x"y`},
		{"backslash", `a\b`, `\`, `x\y`},
		{"trailing backslash", `k\`, `v\\`, `f\`},
		{"escape lookalikes", `\,\ \=`, `\, \ \=`, `\,\=`},
		{"cyrillic", "счётчик", "Қарағанды, үй 5", "көрсеткіш"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tags := []field{{"case", fmt.Sprint(i)}, {tt.tagKey, tt.tagVal}}
			fields := []field{{tt.fieldKey, float64(i)}}
			p, err := newPoint(Measurement, tags, fields, t0)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.send(t.Context(), []*write.Point{p}); err != nil {
				t.Fatal(err)
			}
			got := v.Export(t, fmt.Sprintf(`{case="%d"}`, i))
			if len(got) != 1 {
				t.Fatalf("got %d series, want 1: %v", len(got), got)
			}
			m := got[0].Metric
			if m[tt.tagKey] != tt.tagVal || m["__name__"] != Measurement+"_"+tt.fieldKey ||
				len(m) != 3 {
				t.Errorf("got labels %q, want %s=%q and name %q", m, tt.tagKey, tt.tagVal,
					Measurement+"_"+tt.fieldKey)
			}
		})
	}
}

// TestEscapedMeterThroughWrite sends the meter ID the way the
// ingestor does, through Write.
func TestEscapedMeterThroughWrite(t *testing.T) {
	v := startVictoria(t)
	w := newTestWriter(t, v.url, Options{})
	b := batchOf(t, "bldg-0042", 1, 1)
	b.Readings[0].Meter = `кв 12, "A"=b\`
	mustWrite(t, w, b)
	checkStored(t, v, b)
}

// TestOutage stops VictoriaMetrics under a Write: the Write waits,
// retrying, and succeeds once it is back, with nothing lost.
func TestOutage(t *testing.T) {
	v := startVictoria(t)
	w := newTestWriter(t, v.url, Options{BatchLines: 100})
	before, during := batchOf(t, "bldg-0042", 50, 2), batchOf(t, "bldg-0043", 50, 4)
	mustWrite(t, w, before)

	v.Stop()
	done := make(chan error, 1)
	go func() { done <- w.Write(context.Background(), during) }()
	select {
	case err := <-done:
		t.Fatalf("Write returned %v while the database was down, want it to wait", err)
	case <-time.After(time.Second):
	}
	if err := v.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Write after the outage: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Write did not return 30 s after the database came back")
	}
	checkStored(t, v, before)
	checkStored(t, v, during)
}

// TestServerErrorRetried answers the first two requests with 503, as an
// overloaded database does: the Write still succeeds, on the third.
func TestServerErrorRetried(t *testing.T) {
	v := startVictoria(t)
	p := startProxy(t, v, func(n int32, rw http.ResponseWriter) bool {
		if n > 2 {
			return false
		}
		http.Error(rw, "overloaded", http.StatusServiceUnavailable)
		return true
	})
	w := newTestWriter(t, p.srv.URL, Options{})
	b := batchOf(t, "bldg-0042", 5, 1)
	mustWrite(t, w, b)
	if n := p.hits.Load(); n != 3 {
		t.Errorf("got %d requests, want 3: two answered 503, then the write", n)
	}
	checkStored(t, v, b)
}

// TestTimeoutRetried stalls the first request past the Timeout.
func TestTimeoutRetried(t *testing.T) {
	v := startVictoria(t)
	p := startProxy(t, v, func(n int32, rw http.ResponseWriter) bool {
		if n == 1 {
			time.Sleep(500 * time.Millisecond)
		}
		return false
	})
	w := newTestWriter(t, p.srv.URL, Options{Timeout: 100 * time.Millisecond})
	b := batchOf(t, "bldg-0042", 5, 1)
	mustWrite(t, w, b)
	if n := p.hits.Load(); n < 2 {
		t.Errorf("got %d requests, want a retry after the stalled one", n)
	}
	checkStored(t, v, b)
}

// TestClientErrorNotRetried sends to a path VictoriaMetrics answers with
// 400: the Write fails at once with ErrRejected, after one request.
func TestClientErrorNotRetried(t *testing.T) {
	v := startVictoria(t)
	p := startProxy(t, v, nil)
	w := newTestWriter(t, p.srv.URL+"/no-such-prefix", Options{})
	err := w.Write(t.Context(), batchOf(t, "bldg-0042", 5, 1))
	wantErrIs(t, err, ErrRejected)
	if n := p.hits.Load(); n != 1 {
		t.Errorf("got %d requests, want 1: a 4xx is not retried", n)
	}
}

// TestCancel cancels a Write that is retrying against a stopped server.
func TestCancel(t *testing.T) {
	v := startVictoria(t)
	v.Stop()
	w := newTestWriter(t, v.url, Options{MinBackoff: time.Second, MaxBackoff: time.Minute})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()

	start := time.Now()
	err := w.Write(ctx, batchOf(t, "bldg-0042", 5, 1))
	wantErrIs(t, err, context.DeadlineExceeded)
	if errors.Is(err, ErrRejected) {
		t.Errorf("got %v, want a cancelled write not to be reported as rejected", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Write took %s after its context ended at 300 ms", took)
	}
}
