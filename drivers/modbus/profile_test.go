package modbus

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/esep-kz/esep/internal/config"
)

// shippedFixture is testdata/profiles/<name>.yaml: the registers of one
// poll of a meter and what its profile must decode from them, written
// from the maker's examples or encoded by hand.
type shippedFixture struct {
	Profile  string      `yaml:"profile"`
	Reads    []testRead  `yaml:"reads"`
	Want     []wantValue `yaml:"want"`
	Serial   string      `yaml:"serial"`
	Model    string      `yaml:"model"`
	Firmware string      `yaml:"firmware"`
}

// TestShippedProfiles loads every profile built into the binary and
// decodes a known poll with each; a profile without a fixture fails.
func TestShippedProfiles(t *testing.T) {
	ps, err := ShippedProfiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) < 8 {
		t.Errorf("%d profiles shipped, want at least 8", len(ps))
	}
	for _, name := range ps.Names() {
		t.Run(name, func(t *testing.T) {
			p := ps[name]
			if _, err := shipped.Open("profiles/" + name + ".yaml"); err != nil {
				t.Errorf("profile %q is not in profiles/%s.yaml", name, name)
			}
			var fx shippedFixture
			decodeReadYAML(t, filepath.Join("testdata", "profiles", name+".yaml"), &fx)
			d, err := p.Decode(fixtureWords(t, fx.Reads))
			if err != nil {
				t.Errorf("decode: %v", err)
			}
			checkDecodedValues(t, d.Values, fx.Want)
			got := [3]string{d.Serial, d.Model, d.Firmware}
			if want := [3]string{fx.Serial, fx.Model, fx.Firmware}; got != want {
				t.Errorf("identity (serial, model, firmware) = %q, want %q", got, want)
			}
		})
	}
}

func TestShippedProfilesPlan(t *testing.T) {
	ps, err := ShippedProfiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range ps.Names() {
		p := ps[name]
		if _, err := NewPlan(p.Needs(), p.PlanOptions(DefaultPlanOptions())); err != nil {
			t.Errorf("profile %q cannot be planned: %v", name, err)
		}
	}
}

const ownProfile = `name: eastron-sdm120
maker: Eastron
model: SDM120-Modbus (site copy)
kind: electricity
source: {document: site notes, revision: "1"}
function: input
addressing: pdu
values:
  - {quantity: voltage_v, address: 0, type: f32, unit: V, places: 1}
`

func TestLoadProfilesOverride(t *testing.T) {
	dir := t.TempDir()
	added := strings.Replace(ownProfile, "eastron-sdm120", "site-meter", 1)
	writeProfile(t, dir, "a.yaml", ownProfile)
	writeProfile(t, dir, "b.yaml", added)
	writeProfile(t, dir, "notes.txt", "not a profile")

	ps, err := LoadProfiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	shippedSet, _ := ShippedProfiles()
	if len(ps) != len(shippedSet)+1 {
		t.Errorf("%d profiles, want the %d shipped plus one", len(ps), len(shippedSet))
	}
	p, err := ps.Get("eastron-sdm120")
	if err != nil || p.Model != "SDM120-Modbus (site copy)" {
		t.Errorf("Get(eastron-sdm120) = %+v, %v; want the directory's copy", p, err)
	}
	if _, err := ps.Get("site-meter"); err != nil {
		t.Error(err)
	}
	if _, err := ps.Get("no-such-meter"); !errors.Is(err, ErrUnknownProfile) {
		t.Errorf("Get(no-such-meter) = %v, want ErrUnknownProfile", err)
	}
}

func TestLoadProfilesErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"same name twice", map[string]string{"a.yaml": ownProfile, "b.yaml": ownProfile},
			[]string{"b.yaml: profile \"eastron-sdm120\" is also defined in", "a.yaml"}},
		{"every broken file reported", map[string]string{
			"a.yaml": strings.Replace(ownProfile, "pdu", "hex", 1),
			"b.yaml": strings.Replace(ownProfile, "voltage_v", "volts", 1)},
			[]string{"a.yaml:7:1: addressing: \"hex\" is not one of", "b.yaml:9:", "volts"}},
		{"unknown key", map[string]string{"a.yaml": ownProfile + "word_order: CDAB\n"},
			[]string{`a.yaml:10:1: word_order: unknown key "word_order"; did you mean "order"?`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range tt.files {
				writeProfile(t, dir, name, text)
			}
			_, err := LoadProfiles(dir)
			if err == nil {
				t.Fatal("LoadProfiles succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func writeProfile(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestProfileErrorPosition checks the form of a load error: file, line,
// column and field, then the value and what is allowed (STYLE §5).
func TestProfileErrorPosition(t *testing.T) {
	text := strings.Replace(ownProfile, "type: f32,", "type: u16, order: CDAB,", 1)
	_, err := ParseProfile("site.yaml", []byte(text))
	var es config.Errors
	if !errors.As(err, &es) || len(es) != 1 {
		t.Fatalf("ParseProfile = %v, want one config error", err)
	}
	want := `site.yaml:9:50: values[0].order: order "CDAB" does not fit type "u16" ` +
		`(1 registers), accepted: AB, BA: invalid byte order`
	if es[0].Error() != want {
		t.Errorf("error\n%s\nwant\n%s", es[0], want)
	}
}

func TestProfileDefaults(t *testing.T) {
	text := `name: t
maker: T
model: T
kind: water
source: {document: d, revision: r}
function: holding
addressing: register
order: DCBA
max_gap: 0
separate: [[10, 12]]
values:
  - {quantity: volume_m3, address: 1, type: u32, scale: 0.001, unit: m3}
  - {quantity: flow_m3h, address: 3, type: i16, unit: m3/h, function: input}
  - {quantity: temp_supply_c, address: 5, type: u64, scale: 0.01, unit: °C}
`
	p, err := ParseProfile("t.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	vol, flow, temp := p.Values[0], p.Values[1], p.Values[2]
	checks := []struct {
		name      string
		got, want any
	}{
		{"wire address of register 1", vol.Wire, uint16(0)},
		{"profile order on a u32", vol.Order, Order("DCBA")},
		{"profile order on a u16", flow.Order, Order("BA")},
		{"profile order on a u64", temp.Order, Order("HGFEDCBA")},
		{"places from the scale", *vol.Places, int32(3)},
		{"cumulative from the vocabulary", *vol.Cumulative, true},
		{"rollover from the type", vol.Rollover.String(), "4294967.295"},
		{"instantaneous", *flow.Cumulative, false},
		{"point function", flow.Function, Input},
		{"scale default", flow.Scale.String(), "1"},
		{"needs", p.Needs(), []Need{{"volume_m3", 3, 0, 2}, {"flow_m3h", 4, 2, 1},
			{"temp_supply_c", 3, 4, 4}}},
		{"plan options", p.PlanOptions(DefaultPlanOptions()).Separate,
			[]SeparateRange{{Func: 3, First: 9, Last: 11}}},
		{"max gap", p.PlanOptions(DefaultPlanOptions()).MaxGap, 0},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !equalAny(c.got, c.want) {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}
}

func equalAny(a, b any) bool {
	if x, ok := a.([]Need); ok {
		return slices.Equal(x, b.([]Need))
	}
	if x, ok := a.([]SeparateRange); ok {
		return slices.Equal(x, b.([]SeparateRange))
	}
	return a == b
}

func TestProfileScaleRegister(t *testing.T) {
	text := ownProfile[:strings.Index(ownProfile, "values:")] + `values:
  - {quantity: power_w, address: 10, type: i16, unit: W, places: 1,
     scale_register: {address: 12, type: i16}}
`
	p, err := ParseProfile("sunspec.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		words   []uint16
		want    string
		quality string
	}{
		{"sf -1", []uint16{0xF91C, 0, 0xFFFF}, "-176.4", "good"},
		{"sf 2", []uint16{12, 0, 0x0002}, "1200", "good"},
		{"sf not implemented", []uint16{12, 0, 0x8000}, "", "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := p.Decode(fixtureWords(t, []testRead{{Table: Input, Address: 10,
				Words: tt.words}}))
			v := d.Values[0]
			if string(v.Quality) != tt.quality {
				t.Fatalf("quality %s (%v), want %s", v.Quality, err, tt.quality)
			}
			if tt.want != "" {
				wantDecimal(t, "power", v.Number, tt.want)
			} else if !errors.Is(err, ErrBadScale) {
				t.Errorf("error %v, want ErrBadScale", err)
			}
		})
	}
}

func TestProfileDecodeNotRead(t *testing.T) {
	p, err := ParseProfile("p.yaml", []byte(ownProfile))
	if err != nil {
		t.Fatal(err)
	}
	needs := p.Needs()
	cause := errors.New("timeout")
	words := PlanWords(needs, []NeedResult{{Err: cause}})
	d, err := p.Decode(words)
	if !errors.Is(err, cause) || d.Values[0].Quality != "error" || d.Values[0].HasNumber() {
		t.Errorf("Decode = %+v, %v; want an error value wrapping %v", d, err, cause)
	}
	if !strings.Contains(err.Error(), `profile "eastron-sdm120": voltage_v at input 0x0000`) {
		t.Errorf("error %q does not name the profile and point", err)
	}

	words = PlanWords(needs, []NeedResult{{Words: []uint16{0x4366, 0x3334}}})
	if d, err := p.Decode(words); err != nil || d.Values[0].Number.String() != "230.2" {
		t.Errorf("Decode = %+v, %v; want 230.2", d, err)
	}
	if _, err := PlanWords(nil, nil)(4, 0, 2); !errors.Is(err, ErrNotRead) {
		t.Errorf("words of an empty cycle: %v, want ErrNotRead", err)
	}
}

// TestProfileCheck checks what Validate refuses, and where it says so, for
// points that the planner or the decoder could not serve.
func TestProfileCheck(t *testing.T) {
	const head = "name: p\nmaker: m\nmodel: x\nkind: electricity\n" +
		"source: {document: d, revision: \"1\"}\nfunction: holding\naddressing: pdu\nvalues:\n"
	tests := []struct {
		name   string
		values string
		want   string // "" when the profile is valid
		not    string // no error may contain it
	}{
		{"u32 at the last address",
			"  - {quantity: voltage_v, address: 0xFFFF, type: u32, unit: V}\n",
			`p.yaml:9:27: values[0].address: holding 0xFFFF takes 2 registers, running past 0xFFFF`,
			""},
		{"u16 at the last address",
			"  - {quantity: voltage_v, address: 0xFFFF, type: u16, unit: V}\n", "", ""},
		{"rollover beyond the type",
			"  - {quantity: energy_active_import_kwh, address: 0, type: u16, scale: 0.1,\n" +
				"     unit: kWh, rollover: 100000}\n",
			`values[0].rollover: 100000 is beyond 6553.5, the largest u16 times scale 0.1`, ""},
		{"rollover within the type",
			"  - {quantity: energy_active_import_kwh, address: 0, type: u16, scale: 0.1,\n" +
				"     unit: kWh, rollover: 1000}\n", "", ""},
		{"no overlap after bad addresses",
			"  - {quantity: voltage_v, address: -1, type: u16, unit: V}\n" +
				"  - {quantity: current_a, address: -2, type: u16, unit: A}\n",
			`values[1].address: -2 is not a pdu address`, "overlap"},
		{"not_available wider than the type",
			"  - {quantity: voltage_v, address: 0, type: u16, unit: V, not_available: [0x10000]}\n",
			`values[0].not_available: 0x10000 does not fit the 16 bits of a u16`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProfile("p.yaml", []byte(head+tt.values))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("ParseProfile: %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("ParseProfile: %v\nwant an error containing %q", err, tt.want)
			case tt.not != "" && err != nil && strings.Contains(err.Error(), tt.not):
				t.Errorf("ParseProfile: %v\nwant no error containing %q", err, tt.not)
			}
		})
	}
}

// TestProfileNotAvailablePoint checks a point's own not_available list
// and the profile's list taken by type.
func TestProfileNotAvailablePoint(t *testing.T) {
	text := ownProfile + "  - {quantity: power_w, address: 2, type: i16, unit: W, " +
		"not_available: [0x8000]}\n  - {quantity: current_a, address: 3, type: i16, unit: A}\n" +
		"  - {quantity: frequency_hz, address: 4, type: i16, unit: Hz, not_available: []}\n" +
		"not_available: {i16: [0x7FFF]}\n"
	p, err := ParseProfile("p.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		point int
		word  uint16
		want  bool // not available
	}{
		{1, 0x8000, true}, {1, 0x7FFF, false}, {2, 0x7FFF, true}, {2, 0x8000, false},
		{3, 0x7FFF, false},
	}
	for _, tt := range tests {
		pt := &p.Values[tt.point]
		_, err := pt.number(func(byte, uint16, uint16) ([]uint16, error) {
			return []uint16{tt.word}, nil
		})
		if got := errors.Is(err, ErrNotAvailable); got != tt.want {
			t.Errorf("%s of %04X: %v; want not available %v", pt.Quantity, tt.word, err, tt.want)
		}
	}
}

// TestProfileNotAvailable decodes a poll of the ABB B23 in which every
// value holds the maker's "not available": all FF when unsigned, 7F FF..
// when signed. Each must be an error without a number, not 21474836.47 W.
func TestProfileNotAvailable(t *testing.T) {
	ps, err := ShippedProfiles()
	if err != nil {
		t.Fatal(err)
	}
	p, err := ps.Get("abb-b23")
	if err != nil {
		t.Fatal(err)
	}
	byAddr := map[uint16]Type{}
	for _, pt := range p.Values {
		byAddr[pt.Wire] = pt.Type
	}
	words := func(fn byte, addr, count uint16) ([]uint16, error) {
		ws := make([]uint16, count)
		for i := range ws {
			ws[i] = 0xFFFF
		}
		if byAddr[addr].Signed() {
			ws[0] = 0x7FFF
		}
		return ws, nil
	}

	d, err := p.Decode(words)
	if !errors.Is(err, ErrNotAvailable) {
		t.Errorf("Decode error %v, want ErrNotAvailable", err)
	}
	for _, v := range d.Values {
		if v.Quality != "error" || v.HasNumber() || !v.Number.IsZero() {
			t.Errorf("%s = %s (quality %s, number %s), want an error without a number",
				v.Quantity, v, v.Quality, v.Number)
		}
	}

	// -0.01 W is a power, not the marker.
	words = func(fn byte, addr, count uint16) ([]uint16, error) {
		return []uint16{0xFFFF, 0xFFFF}, nil
	}
	pt := p.Values[slices.IndexFunc(p.Values, func(pt Point) bool { return pt.Quantity == "power_w" })]
	if n, err := pt.number(words); err != nil || n.String() != "-0.01" {
		t.Errorf("power_w of FFFF FFFF = %s, %v; want -0.01", n, err)
	}
}

// FuzzProfile feeds arbitrary bytes to the loader: it must never panic,
// and every error must name the file.
func FuzzProfile(f *testing.F) {
	entries, _ := shipped.ReadDir("profiles")
	for _, e := range entries {
		data, _ := shipped.ReadFile("profiles/" + e.Name())
		f.Add(data)
	}
	f.Add([]byte(ownProfile))
	f.Add([]byte("values: [{type: str}]\nidentity: {serial: {type: u16, registers: -1}}\n"))
	f.Add([]byte("separate: [[], [1, 30001]]\naddressing: modicon\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProfile("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		p.Needs()
		p.Decode(func(fn byte, addr, count uint16) ([]uint16, error) {
			return make([]uint16, count), nil
		})
	})
}
