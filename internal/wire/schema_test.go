package wire

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/esep-kz/esep/internal/reading"
)

// encoded returns encoder output of every kind, by schema file, with n
// readings in the readings batch.
func encoded(t testing.TB, n int) map[string][][]byte {
	t.Helper()
	must := func(data []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	var evItems []Item
	for i, e := range events(t) {
		evItems = append(evItems, Item{Seq: uint64(100 + i), Data: mustEvent(t, e)})
	}
	return map[string][][]byte{
		"readings.json": {must(ReadingsBatch("bldg-0042", sent, sdm120Batch(t, n, 1001)))},
		"events.json":   {must(EventsBatch("bldg-0042", sent, evItems))},
		"status.json": {
			must(EncodeStatus(Status{Agent: "bldg-0042", State: StateOnline,
				Version: "v0.4.0", Started: started})),
			must(EncodeStatus(Status{Agent: "bldg-0042", State: StateOffline})),
		},
		"inventory.json": {must(EncodeInventory(inventory()))},
		"command.json": {must(EncodeCommand(Command{Cmd: ResendRequest, ID: "rs-7",
			From: 1200, To: 1450}))},
		"resend.json": {
			must(EncodeResend(ResendAnswer{Agent: "bldg-0042", ID: "rs-7", From: 1200,
				To: 1450, Resent: 240, Gone: []Range{{1200, 1210}}})),
			must(EncodeResend(ResendAnswer{Agent: "bldg-0042", ID: "rs-8", From: 1, To: 9,
				Error: "spool closed"})),
		},
	}
}

func TestSchemasAcceptEncoderOutput(t *testing.T) {
	for name, docs := range encoded(t, 50) {
		for i, doc := range docs {
			t.Run(fmt.Sprintf("%s/%d", name, i), func(t *testing.T) {
				if err := validate(t, name, doc); err != nil {
					t.Errorf("schema refuses %s:\n%v", gunzip(t, doc), err)
				}
			})
		}
	}
}

// decoders reads a plain document of each schema with its Go decoder.
var decoders = map[string]func([]byte) error{
	"readings.json":  func(b []byte) error { _, err := DecodeReadings(b); return err },
	"events.json":    func(b []byte) error { _, err := DecodeEvents(b); return err },
	"status.json":    func(b []byte) error { _, err := DecodeStatus(b); return err },
	"inventory.json": func(b []byte) error { _, err := DecodeInventory(b); return err },
	"command.json":   func(b []byte) error { _, err := DecodeCommand(b); return err },
	"resend.json":    func(b []byte) error { _, err := DecodeResend(b); return err },
}

// TestSchemasRefuse checks that the schemas, and the decoders with them,
// refuse documents that break v1 in ways a reader outside Go must see.
func TestSchemasRefuse(t *testing.T) {
	const ev = `{"v":1,"agent":"b1","sent":"2026-03-01T05:15:17.412Z","items":[%s]}`
	const inv = `{"v":1,"agent":"b1","time":"2026-03-01T05:15:17.412Z",` +
		`"buses":[%s],"models":[{"profile":"p1","maker":"M","model":"X","kind":"water",` +
		`"hash":"sha256:` + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" +
		`"}],"meters":[{"id":"m1","bus":"b","slave":1,"profile":"p1","interval_s":900}]}`
	tests := []struct {
		name, schema, doc string
	}{
		{"event kind unknown", "events.json",
			fmt.Sprintf(ev, `{"seq":1,"kind":"meter_lost","meter":"m1","time":"2026-03-01T05:15:00.000Z"}`)},
		{"event field of another kind", "events.json",
			fmt.Sprintf(ev, `{"seq":1,"kind":"meter_online","meter":"m1","step_ms":5,`+
				`"time":"2026-03-01T05:15:00.000Z"}`)},
		{"event without seq", "events.json",
			fmt.Sprintf(ev, `{"kind":"bus_up","bus":"b1","time":"2026-03-01T05:15:00.000Z"}`)},
		{"clock step of 0", "events.json",
			fmt.Sprintf(ev, `{"seq":1,"kind":"clock_stepped","step_ms":0,`+
				`"time":"2026-03-01T05:15:00.000Z"}`)},
		{"pressure without counts", "events.json",
			fmt.Sprintf(ev, `{"seq":1,"kind":"spool_pressure","time":"2026-03-01T05:15:00.000Z"}`)},
		{"replaced, old values without time", "events.json",
			fmt.Sprintf(ev, `{"seq":1,"kind":"meter_replaced","meter":"m1","old_serial":"1",`+
				`"new_serial":"2","time":"2026-03-01T05:15:00.000Z","old_values":[{"quantity":`+
				`"volume_m3","number":"1.000","unit":"m3","quality":"good"}]}`)},
		{"online without started", "status.json",
			`{"v":1,"agent":"b1","state":"online","version":"v1"}`},
		{"status of a person", "status.json",
			`{"v":1,"agent":"b1","state":"offline","contact":"Aigerim, +7 701 000 0000"}`},
		{"status v2", "status.json", `{"v":2,"agent":"b1","state":"offline"}`},
		{"rtu without baud", "inventory.json",
			fmt.Sprintf(inv, `{"name":"b","transport":"rtu"}`)},
		{"bus with its address", "inventory.json",
			fmt.Sprintf(inv, `{"name":"b","transport":"tcp","address":"10.0.0.5:502"}`)},
		{"command of another kind", "command.json",
			`{"v":1,"cmd":"reboot","id":"c1","from":1,"to":2}`},
		{"command from 0", "command.json", `{"v":1,"cmd":"resend","id":"c1","from":0,"to":2}`},
		{"command with a string seq", "command.json",
			`{"v":1,"cmd":"resend","id":"c1","from":"1","to":2}`},
		{"resend with empty gone", "resend.json",
			`{"v":1,"agent":"b1","id":"c1","from":1,"to":2,"resent":2,"gone":[]}`},
		{"resend without count", "resend.json", `{"v":1,"agent":"b1","id":"c1","from":1,"to":2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if validate(t, tt.schema, []byte(tt.doc)) == nil {
				t.Errorf("%s accepts %s", tt.schema, tt.doc)
			}
			if decoders[tt.schema]([]byte(tt.doc)) == nil {
				t.Errorf("the decoder of %s accepts %s", tt.schema, tt.doc)
			}
		})
	}
}

// TestSchemaVocabulary checks that common.json lists exactly the
// quantities and units of internal/reading; after a change of the
// vocabulary, copy the lists this test prints into it.
func TestSchemaVocabulary(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(schemaDir, "common.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Defs map[string]struct {
			Enum []string `json:"enum"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var units []string
	for _, s := range reading.Quantities {
		if !slices.Contains(units, s.Unit) {
			units = append(units, s.Unit)
		}
	}
	slices.Sort(units)
	lists := []struct {
		def  string
		want []string
	}{{"quantity", reading.Names()}, {"unit", units}}
	for _, l := range lists {
		got := slices.Sorted(slices.Values(doc.Defs[l.def].Enum))
		if !slices.Equal(got, l.want) {
			want, _ := json.Marshal(l.want)
			t.Errorf("common.json $defs.%s.enum is %q,\nwant %s", l.def, got, want)
		}
	}
}
