package agent

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/shopspring/decimal"

	"github.com/esep-kz/esep/internal/reading"
)

func openTestState(t *testing.T, dir string) *State {
	t.Helper()
	s, err := OpenState(dir, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatalf("OpenState(%q): %v", dir, err)
	}
	return s
}

func testRecord(serial string) MeterRecord {
	return MeterRecord{Serial: serial, Model: "SDM120", Firmware: "1.2",
		Time: time.Date(2026, 3, 1, 5, 15, 0, 0, time.UTC),
		Values: []reading.Value{{Quantity: "energy_active_import_kwh", Unit: "kWh",
			Quality: reading.Good, Number: decimal.RequireFromString("12345.60"), Places: 2}}}
}

func TestStateRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "made", "by", "open")
	s := openTestState(t, dir)
	if _, ok := s.Meter("m1"); ok {
		t.Fatalf("a new state knows meter m1")
	}
	want := testRecord("1111")
	if err := s.Put("m1", want, true); err != nil {
		t.Fatal(err)
	}

	got, ok := openTestState(t, dir).Meter("m1")
	if !ok || got.Serial != want.Serial || got.Model != want.Model ||
		got.Firmware != want.Firmware || !got.Time.Equal(want.Time) {
		t.Fatalf("record read back = %+v, %v; want %+v", got, ok, want)
	}
	if len(got.Values) != 1 || got.Values[0].String() != "energy_active_import_kwh: 12345.60 kWh" {
		t.Errorf("values read back = %v, want the index at its two places", got.Values)
	}
	checkNoTempFiles(t, dir)
}

// TestStateFlushSpacing checks that index updates are written at most
// every stateFlushEvery, and all of them by Flush.
func TestStateFlushSpacing(t *testing.T) {
	dir := t.TempDir()
	s := openTestState(t, dir)
	if err := s.Put("m1", testRecord("1111"), false); err != nil {
		t.Fatal(err) // the first write goes out: none was made yet
	}
	if err := s.Put("m2", testRecord("2222"), false); err != nil {
		t.Fatal(err)
	}
	if _, ok := openTestState(t, dir).Meter("m2"); ok {
		t.Errorf("an index update was written within %s of the last write", stateFlushEvery)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, ok := openTestState(t, dir).Meter("m2"); !ok {
		t.Errorf("Flush did not write the pending update")
	}
}

func TestStateUnreadable(t *testing.T) {
	tests := []struct {
		name, body string
	}{
		{"not json", "{\"version\": 1, \"meters\": {"},
		{"other version", `{"version": 2, "meters": {"m1": {"serial": "1"}}}`},
		{"bad number", `{"version": 1, "meters": {"m1": {"values": [{"value": "x"}]}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, stateFile)
			if err := os.WriteFile(path, []byte(tt.body), 0o640); err != nil {
				t.Fatal(err)
			}
			s := openTestState(t, dir)
			if _, ok := s.Meter("m1"); ok {
				t.Errorf("state from %q knows meter m1", tt.body)
			}
			aside, _ := filepath.Glob(path + ".bad-*")
			if len(aside) != 1 {
				t.Fatalf("files set aside: %v, want the unreadable one", aside)
			}
			if b, _ := os.ReadFile(aside[0]); string(b) != tt.body {
				t.Errorf("file set aside holds %q, want %q", b, tt.body)
			}
		})
	}
}

// TestStateCannotSetAside checks that an unreadable state file that
// cannot be moved aside, on a read-only disk, does not keep the agent
// from starting, and is replaced by the first good write.
func TestStateCannotSetAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, stateFile)
	if err := os.WriteFile(path, []byte("{"), 0o640); err != nil {
		t.Fatal(err)
	}
	renameFile = func(string, string) error { return os.ErrPermission }
	s := openTestState(t, dir)
	renameFile = os.Rename

	if b, _ := os.ReadFile(path); string(b) != "{" {
		t.Errorf("state file holds %q after a failed set-aside, want it untouched", b)
	}
	if err := s.Put("m1", testRecord("1111"), true); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if r, ok := openTestState(t, dir).Meter("m1"); !ok || r.Serial != "1111" {
		t.Errorf("after a good write the state holds %+v, %v; want serial 1111", r, ok)
	}
}

// TestStateFileNotReadable checks that a state path that cannot be read
// at all, a directory in the file's place, is set aside and the agent
// starts, its first write making a good file.
func TestStateFileNotReadable(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, stateFile), 0o750); err != nil {
		t.Fatal(err)
	}
	s := openTestState(t, dir)
	if err := s.Put("m1", testRecord("1111"), true); err != nil {
		t.Fatalf("Put after setting aside: %v", err)
	}
	if r, ok := openTestState(t, dir).Meter("m1"); !ok || r.Serial != "1111" {
		t.Errorf("state holds %+v, %v; want serial 1111", r, ok)
	}
	if aside, _ := filepath.Glob(filepath.Join(dir, stateFile+".bad-*")); len(aside) != 1 {
		t.Errorf("set aside: %v, want the directory", aside)
	}
}

// TestStateRemovesStaleTemps checks that temporary files of writes cut
// short by a power cut are removed at start, and others left alone.
func TestStateRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"." + stateFile + ".123.tmp", "." + stateFile + ".9.tmp",
		"notes.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("{"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	s := openTestState(t, dir)
	if err := s.Put("m1", testRecord("1111"), true); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"notes.tmp", stateFile}; !slices.Equal(names, want) {
		t.Errorf("state directory holds %v, want %v", names, want)
	}
}

func checkNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{stateFile}) || strings.Contains(strings.Join(names, ""), "tmp") {
		t.Errorf("state directory holds %v, want %s alone", names, stateFile)
	}
}

func TestMergeValues(t *testing.T) {
	v := func(q, n string) reading.Value {
		return reading.Value{Quantity: reading.Quantity(q), Quality: reading.Good,
			Number: decimal.RequireFromString(n), Places: 2}
	}
	tests := []struct {
		name       string
		old, fresh []reading.Value
		want       []string
	}{
		{"first poll", nil, []reading.Value{v("import", "1")}, []string{"import 1"}},
		{"all read again", []reading.Value{v("import", "1"), v("export", "2")},
			[]reading.Value{v("import", "3"), v("export", "4")}, []string{"import 3", "export 4"}},
		{"one not read: kept", []reading.Value{v("import", "1"), v("export", "2")},
			[]reading.Value{v("import", "3")}, []string{"import 3", "export 2"}},
		{"a new one", []reading.Value{v("import", "1")}, []reading.Value{v("export", "2")},
			[]string{"import 1", "export 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, x := range mergeValues(tt.old, tt.fresh) {
				got = append(got, string(x.Quantity)+" "+x.Number.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("mergeValues(%v, %v) = %q, want %q", tt.old, tt.fresh, got, tt.want)
			}
		})
	}
}
