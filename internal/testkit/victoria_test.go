package testkit

import (
	"reflect"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
)

// writeInflux sends points through the InfluxDB v2 client's blocking
// write API, the way esep's ingestor does, with millisecond precision.
func writeInflux(t *testing.T, v *Victoria, points ...*write.Point) {
	t.Helper()
	opts := influxdb2.DefaultOptions().SetPrecision(time.Millisecond)
	// VictoriaMetrics needs no token, org or bucket; the client wants them.
	client := influxdb2.NewClientWithOptions(v.URL(), "", opts)
	defer client.Close()

	w := client.WriteAPIBlocking("esep", "meters")
	if err := w.WritePoint(t.Context(), points...); err != nil {
		t.Fatalf("write %d points to %s: %v", len(points), v.URL(), err)
	}
}

func TestVictoriaInfluxRoundTrip(t *testing.T) {
	v := StartVictoria(t)

	// A building name that needs every escape line protocol has.
	const building = "ул. Абая, 1=A"
	old := time.Date(2021, 3, 14, 1, 59, 26, 535_000_000, time.UTC)
	now := time.Now().Truncate(time.Millisecond)
	soon := now.Add(25 * time.Hour)
	tooLate := now.Add(victoriaMaxFuture + time.Hour)

	tags := map[string]string{"building": building, "meter": "m1"}
	writeInflux(t, v,
		influxdb2.NewPoint("energy", tags, map[string]any{"kwh": 1.5, "volt": 230}, old),
		influxdb2.NewPoint("energy", tags, map[string]any{"kwh": 2.25}, now),
		influxdb2.NewPoint("energy", tags, map[string]any{"kwh": 3.0}, soon),
		influxdb2.NewPoint("energy", tags, map[string]any{"kwh": 99.0}, tooLate),
	)

	labels := func(name string) map[string]string {
		return map[string]string{"__name__": name, "building": building, "meter": "m1"}
	}
	tests := []struct {
		name  string
		match string
		want  []Series
	}{{
		name:  "fields become measurement_field with all samples",
		match: `{__name__=~"energy_.*"}`,
		want: []Series{{
			Metric:     labels("energy_kwh"),
			Values:     []float64{1.5, 2.25, 3.0},
			Timestamps: []int64{old.UnixMilli(), now.UnixMilli(), soon.UnixMilli()},
		}, {
			Metric:     labels("energy_volt"),
			Values:     []float64{230},
			Timestamps: []int64{old.UnixMilli()},
		}},
	}, {
		name:  "escaped tag value matches verbatim",
		match: `energy_volt{building="` + building + `"}`,
		want: []Series{{
			Metric:     labels("energy_volt"),
			Values:     []float64{230},
			Timestamps: []int64{old.UnixMilli()},
		}},
	}, {
		name:  "no match gives no series",
		match: `energy_kwh{meter="m2"}`,
		want:  nil,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Export(t.Context(), tt.match)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Export(%q)\n got %+v\nwant %+v", tt.match, got, tt.want)
			}
		})
	}
}

func TestVictoriaRestartKeepsData(t *testing.T) {
	v := StartVictoria(t)
	url := v.URL()
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	restart := func(halt func()) {
		t.Helper()
		halt()
		if _, err := v.Count(t.Context(), "restart_n"); err == nil {
			t.Fatal("Count answered while the server was down")
		}
		if err := v.Start(); err != nil {
			t.Fatal(err)
		}
		if v.URL() != url {
			t.Errorf("URL after restart = %s, want %s", v.URL(), url)
		}
	}
	wantCount := func(step string, want int) {
		t.Helper()
		n, err := v.Count(t.Context(), "restart_n")
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("Count(restart_n) %s = %d, want %d", step, n, want)
		}
	}

	// Stop flushes to disk, so even an unflushed sample survives it.
	writeInflux(t, v, influxdb2.NewPoint("restart", nil, map[string]any{"n": 1}, at))
	restart(v.Stop)
	wantCount("after stop", 1)

	// A kill loses only what was not yet on disk; see Victoria.Kill.
	restart(v.Kill)
	wantCount("after kill", 1)

	later := at.Add(time.Second)
	writeInflux(t, v, influxdb2.NewPoint("restart", nil, map[string]any{"n": 2}, later))
	wantCount("after writing again", 2)
}
