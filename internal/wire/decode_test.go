package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// readingsDoc is a valid readings batch, plain JSON, that the rows of
// TestDecodeReadingsRefuses break one way each.
const readingsDoc = `{"v":1,"agent":"bldg-0042","sent":"2026-03-01T05:15:17.412Z","items":[
 {"seq":1,"meter":"apt-001-el","serial":"21450001","time":"2026-03-01T05:15:00.412Z",
  "values":[{"quantity":"voltage_v","number":"230.10","unit":"V","quality":"good"},
   {"quantity":"current_a","unit":"A","quality":"error"}]},
 {"seq":2,"meter":"apt-002-el","time":"2026-03-01T05:15:00.730Z","values":[
  {"quantity":"energy_active_import_kwh","number":"12345.678","unit":"kWh","quality":"good"}]}]}`

const errorValue = `{"quantity":"current_a","unit":"A","quality":"error"}`

func TestDecodeReadingsRefuses(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // the first old in readingsDoc becomes new
		want     string // in the error; "" for none
		is       error  // the sentinel the error matches
		schema   bool   // whether the schema refuses the document too
	}{
		{"valid", "", "", "", nil, false},
		{"version 2", `"v":1`, `"v":2`, "v: version 2 is not supported (want 1)", ErrVersion, true},
		{"no version", `"v":1,`, ``, "v: missing", ErrInvalid, true},
		{"no agent", `"agent":"bldg-0042",`, ``, "agent: missing", ErrInvalid, true},
		{"agent with space", `bldg-0042`, `bldg 0042`, `agent: "bldg 0042" is not an ID`,
			ErrInvalid, true},
		{"no items", `"items":[`, `"items":[],"x":[`, "", ErrInvalid, true},
		{"no meter", `"meter":"apt-002-el",`, ``, "items[1].meter: missing", ErrInvalid, true},
		{"no time", `,"time":"2026-03-01T05:15:00.730Z"`, ``, "items[1].time: missing",
			ErrInvalid, true},
		{"no values", `,"values":[
  {"quantity":"energy_active_import_kwh","number":"12345.678","unit":"kWh","quality":"good"}]`,
			``, "items[1].values: missing", ErrInvalid, true},
		{"no unit", `,"unit":"A"`, ``, "items[0].values[1].unit: missing", ErrInvalid, true},
		{"no quality", `,"quality":"error"`, ``, "items[0].values[1].quality: missing",
			ErrInvalid, true},
		{"no number", `"number":"230.10",`, ``,
			"items[0].values[0].number: missing for quality good", ErrInvalid, true},
		{"number on error", errorValue,
			`{"quantity":"current_a","number":"1.500","unit":"A","quality":"error"}`,
			"items[0].values[1].number: must be absent for quality error", ErrInvalid, true},
		{"number on out_of_range", errorValue,
			`{"quantity":"current_a","number":"1.500","unit":"A","quality":"out_of_range"}`,
			"items[0].values[1].number: must be absent for quality out_of_range",
			ErrInvalid, true},
		{"JSON number", `"230.10"`, `230.10`, "items[0].values[0]: json: cannot unmarshal",
			ErrInvalid, true},
		{"unknown quantity", `"voltage_v"`, `"voltage_volts"`,
			`items[0].values[0].quantity: quantity "voltage_volts" is not in the vocabulary`,
			ErrInvalid, true},
		{"unknown quality", `"quality":"error"`, `"quality":"estimated"`,
			`items[0].values[1].quality: "estimated" is not one of`, ErrInvalid, true},
		{"unknown unit", `"unit":"V"`, `"unit":"volt"`,
			`items[0].values[0].unit: "volt" is not the unit of voltage_v, "V"`, ErrInvalid, true},
		{"unit of another quantity", `"unit":"V"`, `"unit":"kW"`,
			`items[0].values[0].unit: "kW" is not the unit of voltage_v`, ErrInvalid, false},
		{"seq twice", `"seq":2`, `"seq":1`, "items[1].seq: 1 appears twice (also items[0])",
			ErrInvalid, false},
		{"seq 0", `"seq":2`, `"seq":0`, "items[1].seq: must be at least 1", ErrInvalid, true},
		{"seq negative", `"seq":2`, `"seq":-2`, "items[1]: json: cannot unmarshal",
			ErrInvalid, true},
		{"no seq", `"seq":2,`, ``, "items[1].seq: missing", ErrInvalid, true},
		{"quantity twice", errorValue, `{"quantity":"voltage_v","unit":"V","quality":"error"}`,
			`items[0].values[1].quantity: "voltage_v" appears twice`, ErrInvalid, false},
		{"null", `"serial":"21450001"`, `"serial":null`, "null is not a value", ErrInvalid, true},
		{"empty serial", `"serial":"21450001"`, `"serial":""`, "items[0].serial", ErrInvalid,
			true},
		{"field for a name", `"meter":"apt-002-el"`, `"meter":"apt-002-el","owner":"Ivanov"`,
			`items[1]: json: unknown field "owner"`, ErrInvalid, true},
		{"capital key", `"meter":"apt-002-el"`, `"Meter":"apt-002-el"`, `key "Meter"`,
			ErrInvalid, true},
		{"time with offset", `05:15:00.730Z`, `10:15:00.730+05:00`, "items[1].time: ",
			ErrInvalid, true},
		{"time in seconds", `05:15:00.730Z`, `05:15:00Z`, "items[1].time: ", ErrInvalid, true},
		{"time in microseconds", `05:15:00.730Z`, `05:15:00.730000Z`, "items[1].time: ",
			ErrInvalid, true},
		{"no such day", `2026-03-01T05:15:00.730Z`, `2026-02-30T05:15:00.730Z`,
			"items[1].time: ", ErrInvalid, true},
		{"unknown flag", `"meter":"apt-002-el"`, `"meter":"apt-002-el","flags":["estimated"]`,
			`items[1].flags: "estimated" is not a reading flag`, ErrInvalid, true},
		{"empty flags", `"meter":"apt-002-el"`, `"meter":"apt-002-el","flags":[]`,
			"items[1].flags: empty", ErrInvalid, true},
		{"flag twice", `"meter":"apt-002-el"`,
			`"meter":"apt-002-el","flags":["clock_unsynced","clock_unsynced"]`,
			`items[1].flags: "clock_unsynced" appears twice`, ErrInvalid, true},
		{"data after", `"quality":"good"}]}]}`, `"quality":"good"}]}]} {}`,
			"after top-level value", ErrInvalid, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := []byte(strings.Replace(readingsDoc, tt.old, tt.new, 1))
			if tt.old != "" && bytes.Equal(doc, []byte(readingsDoc)) {
				t.Fatalf("%q is not in the document", tt.old)
			}
			_, err := DecodeReadings(doc)
			if tt.is == nil {
				wantErr(t, err)
				wantErr(t, validate(t, "readings.json", doc))
				return
			}
			wantErr(t, err, "cannot decode readings batch", tt.want)
			if !errors.Is(err, tt.is) {
				t.Errorf("got %v, want it to match %v", err, tt.is)
			}
			if tt.schema && validate(t, "readings.json", doc) == nil {
				t.Errorf("schema accepts %s", doc)
			}
		})
	}
}

// TestDecodeNumbers checks that only plain decimals pass, whatever a
// float parser or decimal.NewFromString would make of the others.
func TestDecodeNumbers(t *testing.T) {
	tests := []struct {
		number string
		ok     bool
	}{
		{"230.10", true}, {"0", true}, {"-12.5", true}, {"0.000000000001", true},
		{"12345678901234567890.12", true},
		{"2.301e2", false}, {"NaN", false}, {"Inf", false}, {"-Infinity", false},
		{"+230.1", false}, {"0230.1", false}, {"230.", false}, {".5", false},
		{" 230.1", false}, {"0x1F", false}, {"230,10", false}, {"", false},
		{"0.0000000000001", false}, {"١٢٣", false},
	}
	for _, tt := range tests {
		t.Run(tt.number, func(t *testing.T) {
			doc := []byte(strings.Replace(readingsDoc, `"230.10"`, `"`+tt.number+`"`, 1))
			_, err := DecodeReadings(doc)
			if got := err == nil; got != tt.ok {
				t.Errorf("DecodeReadings with number %q: error %v, want accepted %v",
					tt.number, err, tt.ok)
			}
			if got := validate(t, "readings.json", doc) == nil; got != tt.ok {
				t.Errorf("schema on number %q: accepted %v, want %v", tt.number, got, tt.ok)
			}
		})
	}
}

func TestDecodeGzip(t *testing.T) {
	zipped, err := compress([]byte(readingsDoc))
	if err != nil {
		t.Fatal(err)
	}
	bomb, err := compress(bytes.Repeat([]byte(" "), MaxDecoded+1))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		body []byte
		is   error // nil: accepted
	}{
		{"gzip", zipped, nil},
		{"plain", []byte(readingsDoc), nil},
		{"truncated gzip", zipped[:len(zipped)/2], ErrInvalid},
		{"magic only", gzipMagic, ErrInvalid},
		{"bomb", bomb, ErrTooLarge},
		{"empty", nil, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := DecodeReadings(tt.body)
			if tt.is == nil && (err != nil || len(b.Readings) != 2) {
				t.Errorf("got %d readings, error %v; want 2, none", len(b.Readings), err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("got error %v, want %v", err, tt.is)
			}
		})
	}
}
