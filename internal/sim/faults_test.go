package sim

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestFaultsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		unit    byte
		faults  Faults
		wantErr error
	}{
		{name: "none", unit: 1},
		{name: "all set", unit: 1, faults: Faults{
			SilentRate: 0.5, SilentEvery: 3, CorruptCRCRate: 1, CorruptCRCEvery: 2,
			Exceptions: []ExceptionRule{{Code: 1}, {Code: 11}}, Chunks: []int{1, 32},
			ForeignUnit: 247, Latency: []time.Duration{time.Second},
		}},
		{name: "unit 0", unit: 0, wantErr: ErrInvalidUnit},
		{name: "unit 248", unit: 248, wantErr: ErrInvalidUnit},
		{name: "rate above 1", unit: 1, faults: Faults{SilentRate: 1.5}, wantErr: ErrInvalidFaults},
		{name: "negative rate", unit: 1, faults: Faults{CorruptCRCRate: -0.1},
			wantErr: ErrInvalidFaults},
		{name: "negative period", unit: 1, faults: Faults{SilentEvery: -1},
			wantErr: ErrInvalidFaults},
		{name: "exception 0", unit: 1, faults: Faults{Exceptions: []ExceptionRule{{}}},
			wantErr: ErrInvalidFaults},
		{name: "exception 12", unit: 1, faults: Faults{Exceptions: []ExceptionRule{{Code: 12}}},
			wantErr: ErrInvalidFaults},
		{name: "exception every -1", unit: 1,
			faults:  Faults{Exceptions: []ExceptionRule{{Code: 6, Every: -1}}},
			wantErr: ErrInvalidFaults},
		{name: "empty chunk", unit: 1, faults: Faults{Chunks: []int{4, 0}},
			wantErr: ErrInvalidFaults},
		{name: "foreign unit is itself", unit: 5, faults: Faults{ForeignUnit: 5},
			wantErr: ErrInvalidFaults},
		{name: "foreign unit 248", unit: 5, faults: Faults{ForeignUnit: 248},
			wantErr: ErrInvalidFaults},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewUnits().SetFaults(tt.unit, tt.faults)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("SetFaults(%d, %+v) = %v; want %v", tt.unit, tt.faults, err, tt.wantErr)
			}
		})
	}
}

func TestRangeMatches(t *testing.T) {
	t.Parallel()
	read := func(addr, count uint16) []byte {
		return []byte{3, byte(addr >> 8), byte(addr), byte(count >> 8), byte(count)}
	}
	tests := []struct {
		name string
		r    Range
		req  []byte
		want bool
	}{
		{"everything", Range{}, []byte{0x2B, 0x0E}, true},
		{"function listed", Range{Functions: []Function{3}}, read(0, 1), true},
		{"function not listed", Range{Functions: []Function{4}}, read(0, 1), false},
		{"overlaps the start", Range{Start: 10, Count: 5}, read(8, 3), true},
		{"overlaps the end", Range{Start: 10, Count: 5}, read(14, 3), true},
		{"ends just before", Range{Start: 10, Count: 5}, read(8, 2), false},
		{"starts just after", Range{Start: 10, Count: 5}, read(15, 2), false},
		{"at the top of the address space", Range{Start: 0xFFFF, Count: 1}, read(0xFFFE, 2), true},
		{"single register write", Range{Start: 10, Count: 1}, []byte{6, 0, 10, 0, 1}, true},
		{"function without address", Range{Start: 0, Count: 100}, []byte{0x2B, 0x0E}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.matches(tt.req); got != tt.want {
				t.Errorf("%+v.matches(% X) = %v; want %v", tt.r, tt.req, got, tt.want)
			}
		})
	}
}

// TestFaultsSequence follows the counters: the Every periods, the latency
// script and the restart when faults are set again.
func TestFaultsSequence(t *testing.T) {
	t.Parallel()
	units := testUnits(t)
	ms := time.Millisecond
	f := Faults{SilentEvery: 3, CorruptCRCEvery: 2, Latency: []time.Duration{1 * ms, 2 * ms}}
	mustSet(t, units.SetFaults(1, f))

	type step struct {
		silent, corrupt bool
		latency         time.Duration
	}
	want := []step{
		{latency: 1 * ms}, {corrupt: true, latency: 2 * ms}, {silent: true},
		{corrupt: true, latency: 1 * ms}, {latency: 2 * ms}, {silent: true},
	}
	var got []step
	for range want {
		r, _ := units.handle(1, hexBytes(t, "03 0064 0001"))
		got = append(got, step{silent: r.pdu == nil, corrupt: r.corrupt, latency: r.latency})
	}
	if !slices.Equal(got, want) {
		t.Errorf("steps\n got %+v\nwant %+v", got, want)
	}

	mustSet(t, units.SetFaults(1, f))
	if r, _ := units.handle(1, hexBytes(t, "03 0064 0001")); r.latency != ms || r.corrupt {
		t.Errorf("after SetFaults again: %+v; want the script from its start", r)
	}
}

// TestExceptionEvery checks that a rule with Every answers only every
// Nth request it matches, counting none it does not match.
func TestExceptionEvery(t *testing.T) {
	t.Parallel()
	units := testUnits(t)
	busy := ExceptionRule{Range: Range{Start: 100, Count: 1}, Code: 6, Every: 2}
	mustSet(t, units.SetFaults(1, Faults{Exceptions: []ExceptionRule{busy}}))

	reqs := []string{"03 0064 0001", "03 0000 0001", "03 0064 0001", "03 0064 0001",
		"03 0000 0001", "03 0064 0001"}
	want := []bool{false, false, true, false, false, true}
	for i, req := range reqs {
		r, _ := units.handle(1, hexBytes(t, req))
		if got := len(r.pdu) > 0 && r.pdu[0]&0x80 != 0; got != want[i] {
			t.Errorf("request %d (%s): exception %v, want %v (reply % X)", i, req, got,
				want[i], r.pdu)
		}
	}
}

// TestFaultsRates checks that a rate is about right and that a seed
// repeats its draws.
func TestFaultsRates(t *testing.T) {
	t.Parallel()
	draw := func(seed uint64) []bool {
		units := testUnits(t)
		mustSet(t, units.SetFaults(1, Faults{SilentRate: 0.25, Seed: seed}))
		out := make([]bool, 2000)
		for i := range out {
			r, _ := units.handle(1, hexBytes(t, "03 0064 0001"))
			out[i] = r.pdu == nil
		}
		return out
	}
	a, b, c := draw(1), draw(1), draw(2)
	silent := 0
	for _, s := range a {
		if s {
			silent++
		}
	}
	if silent < 400 || silent > 600 {
		t.Errorf("%d of 2000 silent at rate 0.25; want about 500", silent)
	}
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Error("draws do not follow the seed")
	}
}

func TestSetFaultsCopies(t *testing.T) {
	t.Parallel()
	units := testUnits(t)
	f := Faults{Latency: []time.Duration{time.Millisecond}}
	mustSet(t, units.SetFaults(1, f))
	f.Latency[0] = time.Hour
	if got := units.Faults(1).Latency[0]; got != time.Millisecond {
		t.Errorf("latency after the caller changed its slice: %s; want 1ms", got)
	}
}
