package tsdb

import (
	"strings"
	"testing"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/shopspring/decimal"

	"github.com/esep-kz/esep/internal/reading"
	"github.com/esep-kz/esep/internal/wire"
)

// encode renders points as the client's blocking write API sends them.
func encode(t *testing.T, pts []*write.Point) string {
	t.Helper()
	var b strings.Builder
	for _, p := range pts {
		b.WriteString(write.PointToLineProtocol(p, time.Millisecond))
	}
	return b.String()
}

func TestPointsLine(t *testing.T) {
	v := func(q reading.Quantity, unit, n string, ql reading.Quality) reading.Value {
		val := reading.Value{Quantity: q, Unit: unit, Quality: ql}
		if n != "" {
			val.Number = decimal.RequireFromString(n)
		}
		return val
	}
	it := wire.ReadingItem{Seq: 7, Flags: []string{wire.FlagClockUnsynced},
		Reading: reading.Reading{Meter: "apt-007-el", Serial: "21450077", Time: t0,
			Values: []reading.Value{
				v("energy_active_import_kwh", "kWh", "12345.678", reading.Good),
				v("voltage_v", "V", "230.10", reading.ClockUnsynced),
				v("current_a", "A", "", reading.Error),
				v("power_w", "W", "", reading.OutOfRange),
			}}}
	pts, err := Points(wire.Batch{Agent: "bldg-0042", Readings: []wire.ReadingItem{it}})
	if err != nil {
		t.Fatal(err)
	}
	got := encode(t, pts)
	want := "meter,agent=bldg-0042,meter=apt-007-el " +
		"energy_active_import_kwh=12345.678,voltage_v=230.1,voltage_v_quality=1i," +
		"current_a_quality=2i,power_w_quality=3i,flag_clock_unsynced=1i 1772342100412\n"
	if got != want {
		t.Errorf("got line\n%q\nwant\n%q", got, want)
	}
	if strings.Contains(got, "21450077") {
		t.Errorf("line %q holds the serial; the serial lives in SQL", got)
	}
}

func TestPointsRefuse(t *testing.T) {
	good := readingOf(t, "apt-001-el", 0, 0)
	tests := []struct {
		name  string
		agent string
		edit  func(r *reading.Reading)
		want  string
	}{
		{"empty meter", "bldg-1", func(r *reading.Reading) { r.Meter = "" }, "tag meter is empty"},
		{"empty agent", "", func(*reading.Reading) {}, "tag agent is empty"},
		{"newline", "bldg-1", func(r *reading.Reading) { r.Meter = "a\nb" },
			`tag meter "a\nb" has a control character at byte 1`},
		{"tab", "bldg\t1", func(*reading.Reading) {}, "control character at byte 4"},
		{"no values", "bldg-1", func(r *reading.Reading) { r.Values = nil },
			"a reading without values has no line"},
		{"unknown quality", "bldg-1", func(r *reading.Reading) { r.Values[2].Quality = "meh" },
			`value voltage_l1_v has the unknown quality "meh"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			r.Values = append([]reading.Value(nil), good.Values...)
			tt.edit(&r)
			b := wire.Batch{Agent: tt.agent, Readings: []wire.ReadingItem{{Seq: 3, Reading: r}}}
			_, err := Points(b)
			wantErrIs(t, err, ErrRejected)
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "seq 3") {
				t.Errorf("got error %q, want it to name seq 3 and say %q", err, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	o := Options{MinBackoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second}
	tests := []struct {
		name     string
		attempt  int
		asked    time.Duration
		min, max time.Duration
	}{
		{"first", 0, 0, 50 * time.Millisecond, 100 * time.Millisecond},
		{"third", 2, 0, 200 * time.Millisecond, 400 * time.Millisecond},
		{"capped", 10, 0, 5 * time.Second, 10 * time.Second},
		{"no overflow", 200, 0, 5 * time.Second, 10 * time.Second},
		{"retry-after", 0, 4 * time.Second, 2 * time.Second, 4 * time.Second},
		{"retry-after capped", 0, time.Hour, 5 * time.Second, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 100 {
				if d := backoff(o, tt.attempt, tt.asked); d < tt.min || d > tt.max {
					t.Fatalf("backoff(%d, %s) = %s, want %s to %s",
						tt.attempt, tt.asked, d, tt.min, tt.max)
				}
			}
		})
	}
}

func TestNewWriterRefuses(t *testing.T) {
	tests := []struct {
		name, url, bucket string
		o                 Options
		want              string
	}{
		{"other scheme", "ftp://127.0.0.1:8428", "raw", Options{}, "want http:// or https://"},
		{"no host", "http:///api", "raw", Options{}, "want http:// or https://"},
		{"no bucket", "http://127.0.0.1:8428", "", Options{}, "bucket is empty"},
		{"backoffs", "http://127.0.0.1:8428", "raw",
			Options{MinBackoff: time.Minute, MaxBackoff: time.Second}, "exceeds max backoff"},
		{"negative batch", "http://127.0.0.1:8428", "raw", Options{BatchLines: -1},
			"batch lines -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewWriter(t.Context(), tt.url, "esep", tt.bucket, "", tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) ||
				!strings.HasPrefix(err.Error(), "cannot write to ") {
				t.Errorf("got %v, want cannot write to ...: %s", err, tt.want)
			}
		})
	}
}
