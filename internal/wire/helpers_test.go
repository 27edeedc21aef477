package wire

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/shopspring/decimal"

	"github.com/esep-kz/esep/internal/reading"
)

// schemaDir holds the JSON Schema files of v1, from this package.
var schemaDir = filepath.Join("..", "..", "docs", "schema", "v1")

// schemaFiles are the payload schemas; common.json holds what they share.
var schemaFiles = []string{"readings.json", "events.json", "status.json",
	"inventory.json", "command.json", "resend.json"}

// schemaBase is the $id prefix of every schema file.
const schemaBase = "https://github.com/esep-kz/esep/raw/main/docs/schema/v1/"

var (
	schemasOnce sync.Once
	schemas     map[string]*jsonschema.Schema
	schemasErr  error
)

// loadSchemas compiles every schema file once, with formats asserted
// (date-time is only an annotation in draft 2020-12 unless asked for).
func loadSchemas() (map[string]*jsonschema.Schema, error) {
	schemasOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		for _, name := range append([]string{"common.json"}, schemaFiles...) {
			f, err := os.Open(filepath.Join(schemaDir, name))
			if err != nil {
				schemasErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(f)
			f.Close()
			if err == nil {
				err = c.AddResource(schemaBase+name, doc)
			}
			if err != nil {
				schemasErr = fmt.Errorf("cannot load schema %q: %w", name, err)
				return
			}
		}
		schemas = map[string]*jsonschema.Schema{}
		for _, name := range schemaFiles {
			s, err := c.Compile(schemaBase + name)
			if err != nil {
				schemasErr = fmt.Errorf("cannot compile schema %q: %w", name, err)
				return
			}
			schemas[name] = s
		}
	})
	return schemas, schemasErr
}

// validate checks doc, plain or gzip JSON, against the named schema.
func validate(t testing.TB, name string, doc []byte) error {
	t.Helper()
	all, err := loadSchemas()
	if err != nil {
		t.Fatal(err)
	}
	doc = gunzip(t, doc)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return all[name].Validate(inst)
}

// gunzip returns doc decompressed when it is gzip, else as it is.
func gunzip(t testing.TB, doc []byte) []byte {
	t.Helper()
	if !bytes.HasPrefix(doc, gzipMagic) {
		return doc
	}
	zr, err := gzip.NewReader(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// at is a fixed time in a 15-minute slot: 10:15 in Almaty is 05:15 UTC.
var at = time.Date(2026, 3, 1, 5, 15, 0, 412_000_000, time.UTC)

// value returns a good value of q at places; q must be in the vocabulary.
func value(t testing.TB, q reading.Quantity, n string, places int32) reading.Value {
	t.Helper()
	v, err := reading.NewValue(q, decimal.RequireFromString(n), places)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sdm120 returns a realistic poll of an Eastron SDM120 in flat n (1 to
// 50), with the profile's 11 values at its resolutions: a flat on one
// phase of a building's feed, drawing between 0.2 and 12 A.
func sdm120(t testing.TB, rng *rand.Rand, n int) reading.Reading {
	t.Helper()
	volts := 226 + 8*rng.Float64()
	amps := 0.2 + 11.8*rng.Float64()*rng.Float64()
	pf := 0.86 + 0.13*rng.Float64()
	va := volts * amps
	w := va * pf
	vars := va * (1 - pf*pf) // near enough √(1−pf²) for test data
	imp := 800 + 24000*rng.Float64()
	f := func(x float64) string { return fmt.Sprintf("%.6f", x) }
	vs := []reading.Value{
		value(t, "voltage_v", f(volts), 2),
		value(t, "current_a", f(amps), 3),
		value(t, "power_w", f(w), 1),
		value(t, "power_apparent_va", f(va), 1),
		value(t, "power_reactive_var", f(vars), 1),
		value(t, "power_factor", f(pf), 3),
		value(t, "frequency_hz", f(49.97+0.06*rng.Float64()), 2),
		value(t, "energy_active_import_kwh", f(imp), 2),
		value(t, "energy_active_export_kwh", f(0.01*float64(rng.IntN(300))), 2),
		value(t, "energy_reactive_import_kvarh", f(imp*(0.08+0.1*rng.Float64())), 2),
		value(t, "energy_reactive_export_kvarh", f(5*rng.Float64()), 2),
	}
	// The agent polls one meter after another on one RS-485 line, a few
	// hundred milliseconds each, all in the same slot.
	when := at.Add(time.Duration(n)*310*time.Millisecond +
		time.Duration(rng.IntN(90))*time.Millisecond)
	return reading.Reading{Meter: fmt.Sprintf("apt-%03d-el", n),
		Serial: fmt.Sprint(21000000 + rng.IntN(9_000_000)), Time: when, Values: vs}
}

// sdm120Batch returns items of n SDM120 readings with seqs from first.
func sdm120Batch(t testing.TB, n int, first uint64) []Item {
	t.Helper()
	rng := rand.New(rand.NewPCG(4, 2026))
	items := make([]Item, 0, n)
	for i := range n {
		data, err := EncodeReading(sdm120(t, rng, i+1))
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, Item{Seq: first + uint64(i), Data: data})
	}
	return items
}

// wantErr fails t unless err is an error whose text holds every one of
// want; an empty want means err must be nil.
func wantErr(t testing.TB, err error, want ...string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Errorf("got error %v, want none", err)
		}
		return
	}
	if err == nil {
		t.Errorf("got no error, want one with %q", want)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("got error %q, want it to contain %q", err, w)
		}
	}
}
