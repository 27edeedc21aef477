package sim

import (
	"bytes"
	"testing"
	"time"
)

func TestLineTiming(t *testing.T) {
	t.Parallel()
	tests := []struct {
		baud          int
		char, silence time.Duration
	}{
		{baud: 9600, char: 1145833 * time.Nanosecond, silence: 4010416 * time.Nanosecond},
		{baud: 19200, char: 572916 * time.Nanosecond, silence: 2005208 * time.Nanosecond},
		// Above 19200 baud t3.5 is fixed (Serial Line V1.02 §2.5.1.1).
		{baud: 38400, char: 286458 * time.Nanosecond, silence: 1750 * time.Microsecond},
		{baud: 115200, char: 95486 * time.Nanosecond, silence: 1750 * time.Microsecond},
	}
	for _, tt := range tests {
		l := line{tt.baud}
		if c, s := l.chars(1), l.silence(); c != tt.char || s != tt.silence {
			t.Errorf("%d baud: character %s, t3.5 %s; want %s, %s", tt.baud, c, s, tt.char, tt.silence)
		}
	}
}

func TestAssembler(t *testing.T) {
	t.Parallel()
	read := hexBytes(t, "01 03 0064 0003 4415")
	write := hexBytes(t, "01 10 0064 0002 04 AAAA BBBB 0000")
	other := hexBytes(t, "01 2B 0E 01 00 0000")
	tests := []struct {
		name       string
		chunks     [][]byte
		want       [][]byte // cut by length
		wantFlush  []byte   // pending at the silence
		wantFirsts []int    // chunk index each frame's first byte came in
	}{
		{name: "read request", chunks: [][]byte{read}, want: [][]byte{read}, wantFirsts: []int{0}},
		{name: "read request byte by byte", chunks: split(read, []int{1, 1, 1, 1, 1, 1, 1}),
			want: [][]byte{read}, wantFirsts: []int{0}},
		{name: "two requests at once", chunks: [][]byte{append(bytes.Clone(read), read...)},
			want: [][]byte{read, read}, wantFirsts: []int{0, 0}},
		{name: "second request starts in the first's chunk",
			chunks: [][]byte{append(bytes.Clone(read), read[:3]...), read[3:]},
			want:   [][]byte{read, read}, wantFirsts: []int{0, 0}},
		{name: "write multiple by byte count", chunks: split(write, []int{6, 1, 2}),
			want: [][]byte{write}, wantFirsts: []int{0}},
		{name: "unknown function ends at silence", chunks: [][]byte{other},
			wantFlush: other},
		{name: "truncated request ends at silence", chunks: [][]byte{read[:5]},
			wantFlush: read[:5]},
	}
	t0 := time.Now()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a assembler
			var got []frame
			for i, c := range tt.chunks {
				got = append(got, a.add(c, t0.Add(time.Duration(i)*time.Millisecond))...)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d frames; want %d", len(got), len(tt.want))
			}
			for i, f := range got {
				at := t0.Add(time.Duration(tt.wantFirsts[i]) * time.Millisecond)
				if !bytes.Equal(f.data, tt.want[i]) || !f.first.Equal(at) {
					t.Errorf("frame %d: % X at %s; want % X at %s", i, f.data,
						f.first.Sub(t0), tt.want[i], at.Sub(t0))
				}
			}
			flushed, ok := a.flush()
			if ok != (tt.wantFlush != nil) || !bytes.Equal(flushed.data, tt.wantFlush) {
				t.Errorf("flush: % X, %v; want % X", flushed.data, ok, tt.wantFlush)
			}
		})
	}
}

// FuzzAssembler checks that cutting loses and invents no byte, and that
// no frame is longer than an RTU frame may be.
func FuzzAssembler(f *testing.F) {
	f.Add([]byte{0x01, 0x03, 0x00, 0x64, 0x00, 0x03, 0x44, 0x15}, uint8(3))
	f.Add([]byte{0x0B, 0x03, 0x40, 0x00, 0x00, 0x20, 0x51, 0x78}, uint8(1))
	f.Add([]byte{0x01, 0x10, 0x00, 0x64, 0x00, 0x01, 0xFF, 0xAA}, uint8(7))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		var a assembler
		var out []byte
		n := max(1, int(step))
		for i := 0; i < len(in); i += n {
			for _, fr := range a.add(in[i:min(i+n, len(in))], time.Now()) {
				if len(fr.data) > maxFrame {
					t.Fatalf("frame of %d bytes", len(fr.data))
				}
				out = append(out, fr.data...)
			}
		}
		if fr, ok := a.flush(); ok {
			out = append(out, fr.data...)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("frames % X; want % X", out, in)
		}
	})
}
