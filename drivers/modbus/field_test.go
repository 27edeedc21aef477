package modbus

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"go.yaml.in/yaml/v3"

	"github.com/esep-kz/esep/internal/reading"
)

// decodeCaseFile is one file of testdata/field: the vectors of one field case
// (/work/shared/cases/field-cases.md, section A), grouped by what they
// exercise.
type decodeCaseFile struct {
	Case      string          `yaml:"case"`
	Source    string          `yaml:"source"`
	Decode    []decodeVector  `yaml:"decode"`
	Frames    []frameVector   `yaml:"frames"`
	BCD       []bcdVector     `yaml:"bcd"`
	Addresses []addressVector `yaml:"addresses"`
	Profiles  []profileVector `yaml:"profiles"`
	Polls     []pollVector    `yaml:"polls"`
}

// decodeVector: words as on the wire, decoded, scaled and rounded.
type decodeVector struct {
	Name   string   `yaml:"name"`
	Words  []uint16 `yaml:"words"`
	Type   Type     `yaml:"type"`
	Order  Order    `yaml:"order"`
	Scale  string   `yaml:"scale"`
	Places *int32   `yaml:"places"`
	Want   string   `yaml:"want"`
	// SameFloat is the number the field report gives, when it has more
	// digits than the shortest form: it must denote the same float32.
	SameFloat string `yaml:"same_float"`
	Is        string `yaml:"is"` // name of the sentinel error expected
}

// frameVector: a complete RTU reply, CRC checked, then decoded.
type frameVector struct {
	Name  string `yaml:"name"`
	Frame string `yaml:"frame"`
	Type  Type   `yaml:"type"`
	Order Order  `yaml:"order"`
	Want  string `yaml:"want"`
}

type bcdVector struct {
	Name       string `yaml:"name"`
	Bytes      string `yaml:"bytes"`
	LeastFirst bool   `yaml:"least_first"`
	SignNibble bool   `yaml:"sign_nibble"`
	Scale      string `yaml:"scale"`
	Want       string `yaml:"want"`
	Is         string `yaml:"is"`
}

type addressVector struct {
	Name       string     `yaml:"name"`
	Addressing Addressing `yaml:"addressing"`
	Address    int        `yaml:"address"`
	Wire       *int       `yaml:"wire"`
	Table      Table      `yaml:"table"`
	Error      string     `yaml:"error"`
}

// profileVector: a profile body (after a fixed header) that must load,
// or fail with an error containing every string of Errors.
type profileVector struct {
	Name   string   `yaml:"name"`
	YAML   string   `yaml:"yaml"`
	Errors []string `yaml:"errors"`
}

// pollVector: a profile body and the registers of one poll, decoded.
type pollVector struct {
	Name  string      `yaml:"name"`
	YAML  string      `yaml:"yaml"`
	Reads []testRead  `yaml:"reads"`
	Want  []wantValue `yaml:"want"`
}

// testRead is a block of registers one poll read: words, or a complete
// RTU reply frame whose CRC the test checks.
type testRead struct {
	Table   Table    `yaml:"table"`
	Address uint16   `yaml:"address"`
	Words   []uint16 `yaml:"words"`
	Frame   string   `yaml:"frame"`
}

type wantValue struct {
	Quantity reading.Quantity `yaml:"quantity"`
	Number   string           `yaml:"number"`
	Quality  reading.Quality  `yaml:"quality"`
}

// caseProfileHeader is put before the body of every profile vector.
const caseProfileHeader = "name: field-case\nmaker: Test\nmodel: T1\nkind: electricity\n" +
	"source: {document: field cases, revision: A}\n"

var decodeSentinels = map[string]error{
	"ErrBadBCD": ErrBadBCD, "ErrNotANumber": ErrNotANumber, "ErrBadOrder": ErrBadOrder,
	"ErrBadType": ErrBadType, "ErrWordCount": ErrWordCount, "ErrBadAddress": ErrBadAddress,
}

// TestDecodeFieldCases runs every vector of testdata/field, one file per case.
func TestDecodeFieldCases(t *testing.T) {
	files, err := filepath.Glob("testdata/field/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no field cases found: %v", err)
	}
	for _, file := range files {
		var f decodeCaseFile
		decodeReadYAML(t, file, &f)
		t.Run(f.Case, func(t *testing.T) {
			runDecodeVectors(t, f.Decode, checkDecode)
			runDecodeVectors(t, f.Frames, checkFrame)
			runDecodeVectors(t, f.BCD, checkBCD)
			runDecodeVectors(t, f.Addresses, checkAddress)
			runDecodeVectors(t, f.Profiles, checkProfile)
			runDecodeVectors(t, f.Polls, checkPoll)
		})
	}
}

// decodeVectorKind is every vector type: each has a name for t.Run.
type decodeVectorKind interface {
	decodeVector | frameVector | bcdVector | addressVector | profileVector | pollVector
}

func runDecodeVectors[V decodeVectorKind](t *testing.T, vs []V, check func(*testing.T, V)) {
	for _, v := range vs {
		t.Run(decodeVectorName(v), func(t *testing.T) { check(t, v) })
	}
}

func decodeVectorName(v any) string {
	switch v := v.(type) {
	case decodeVector:
		return v.Name
	case frameVector:
		return v.Name
	case bcdVector:
		return v.Name
	case addressVector:
		return v.Name
	case profileVector:
		return v.Name
	case pollVector:
		return v.Name
	}
	return "?"
}

func checkDecode(t *testing.T, v decodeVector) {
	got, err := Decode(v.Words, v.Type, v.Order)
	if v.Is != "" {
		if !errors.Is(err, decodeSentinels[v.Is]) {
			t.Fatalf("Decode(%04X, %s, %s) = %v, %v; want %s", v.Words, v.Type, v.Order,
				got, err, v.Is)
		}
		return
	}
	if err != nil {
		t.Fatalf("Decode(%04X, %s, %s): %v", v.Words, v.Type, v.Order, err)
	}
	if v.SameFloat != "" {
		checkSameFloat(t, got, v.SameFloat)
	}
	got = scaleRound(t, got, v.Scale, v.Places)
	wantDecimal(t, fmt.Sprintf("%04X as %s %s", v.Words, v.Type, v.Order), got, v.Want)
}

// checkSameFloat checks that the report's longer number and the decoded
// shortest one are the same float32.
func checkSameFloat(t *testing.T, got decimal.Decimal, report string) {
	t.Helper()
	g, _ := got.Float64()
	r, err := decimal.NewFromString(report)
	if err != nil {
		t.Fatal(err)
	}
	rf, _ := r.Float64()
	if math.Float32bits(float32(g)) != math.Float32bits(float32(rf)) {
		t.Errorf("%s and the report's %s are different float32 values", got, report)
	}
}

func scaleRound(t *testing.T, d decimal.Decimal, scale string, places *int32) decimal.Decimal {
	t.Helper()
	if scale != "" {
		d = d.Mul(decimal.RequireFromString(scale))
	}
	if places != nil {
		d = d.Round(*places)
	}
	return d
}

func wantDecimal(t *testing.T, what string, got decimal.Decimal, want string) {
	t.Helper()
	w, err := decimal.NewFromString(want)
	if err != nil {
		t.Fatalf("bad want %q: %v", want, err)
	}
	if !got.Equal(w) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

func checkFrame(t *testing.T, v frameVector) {
	words := decodeFrameWords(t, v.Frame)
	got, err := Decode(words, v.Type, v.Order)
	if err != nil {
		t.Fatalf("frame %s: %v", v.Frame, err)
	}
	wantDecimal(t, fmt.Sprintf("frame %s as %s %s", v.Frame, v.Type, v.Order), got, v.Want)
}

// decodeFrameWords checks an RTU read reply (slave, function, byte count,
// data, CRC low byte first) and returns its data as words.
func decodeFrameWords(t *testing.T, frame string) []uint16 {
	t.Helper()
	b := decodeHex(t, frame)
	if len(b) < 5 || int(b[2]) != len(b)-5 || b[2]%2 != 0 {
		t.Fatalf("frame %s is not a register read reply", frame)
	}
	body, sum := b[:len(b)-2], b[len(b)-2:]
	if c := CRC16(body); c != uint16(sum[0])|uint16(sum[1])<<8 {
		t.Fatalf("frame %s: CRC %04X, computed %04X", frame, uint16(sum[0])|uint16(sum[1])<<8, c)
	}
	var words []uint16
	for i := 3; i+1 < len(body); i += 2 {
		words = append(words, uint16(body[i])<<8|uint16(body[i+1]))
	}
	return words
}

func decodeHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func checkBCD(t *testing.T, v bcdVector) {
	f := BCD{LeastFirst: v.LeastFirst, SignNibble: v.SignNibble}
	got, err := f.Decode(decodeHex(t, v.Bytes))
	if v.Is != "" {
		if !errors.Is(err, decodeSentinels[v.Is]) {
			t.Fatalf("%+v.Decode(%s) = %v, %v; want %s", f, v.Bytes, got, err, v.Is)
		}
		return
	}
	if err != nil {
		t.Fatalf("%+v.Decode(%s): %v", f, v.Bytes, err)
	}
	got = scaleRound(t, got, v.Scale, nil)
	wantDecimal(t, fmt.Sprintf("%+v.Decode(%s)", f, v.Bytes), got, v.Want)
}

func checkAddress(t *testing.T, v addressVector) {
	wire, table, err := v.Addressing.Wire(v.Address)
	if v.Error != "" {
		if err == nil || !strings.Contains(err.Error(), v.Error) {
			t.Fatalf("%s %d: error %v, want %q", v.Addressing, v.Address, err, v.Error)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s %d: %v", v.Addressing, v.Address, err)
	}
	if v.Wire == nil || int(wire) != *v.Wire || table != v.Table {
		t.Errorf("%s %d = wire 0x%04X %q, want %v %q", v.Addressing, v.Address, wire, table,
			v.Wire, v.Table)
	}
}

func checkProfile(t *testing.T, v profileVector) {
	_, err := ParseProfile("case.yaml", []byte(caseProfileHeader+v.YAML))
	if len(v.Errors) == 0 {
		if err != nil {
			t.Fatalf("profile refused:\n%v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("profile loaded, want errors %q", v.Errors)
	}
	for _, want := range v.Errors {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error\n%v\ndoes not contain %q", err, want)
		}
	}
}

func checkPoll(t *testing.T, v pollVector) {
	p, err := ParseProfile("case.yaml", []byte(caseProfileHeader+v.YAML))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := p.Decode(fixtureWords(t, v.Reads))
	checkDecodedValues(t, d.Values, v.Want)
}

// fixtureWords serves a profile's reads from the blocks of a fixture.
func fixtureWords(t *testing.T, reads []testRead) Words {
	t.Helper()
	for i, r := range reads {
		if r.Frame != "" {
			reads[i].Words = decodeFrameWords(t, r.Frame)
		}
	}
	return func(fn byte, addr, count uint16) ([]uint16, error) {
		for _, r := range reads {
			end := int(r.Address) + len(r.Words)
			if r.Table.Code() == fn && addr >= r.Address && int(addr)+int(count) <= end {
				return r.Words[addr-r.Address : addr-r.Address+count], nil
			}
		}
		return nil, ErrNotRead
	}
}

func checkDecodedValues(t *testing.T, got []reading.Value, want []wantValue) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		q := w.Quality
		if q == "" {
			q = reading.Good
		}
		if g.Quantity != w.Quantity || g.Quality != q {
			t.Errorf("value %d = %s (%s), want %s (%s)", i, g.Quantity, g.Quality, w.Quantity, q)
			continue
		}
		if w.Number != "" {
			wantDecimal(t, string(g.Quantity), g.Number, w.Number)
		}
	}
}

// decodeReadYAML decodes a test fixture, refusing unknown keys.
func decodeReadYAML(t *testing.T, file string, dst any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(dst); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}
