package sim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"
)

func TestTCPGoburrow(t *testing.T) {
	t.Parallel()
	s := startTCP(t, testUnits(t), TCPConfig{})
	for _, tc := range readCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.read(goburrowTCP(t, s.Addr(), tc.unit), tc.addr, tc.qty)
			checkRead(t, got, err, tc.want, tc.exception, tc.silent)
		})
	}
}

func TestTCPFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range faultCases {
		if tc.faults.CorruptCRCEvery > 0 || tc.faults.CorruptCRCRate > 0 {
			continue // TCP has no CRC
		}
		// goburrow's TCP client does not check the unit id of a reply:
		// FC-15.2 asks the agent to, and TestTCPExtraFrames sees the frames.
		if tc.faults.ForeignUnit != 0 {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			units := testUnits(t)
			mustSet(t, units.SetFaults(1, tc.faults))
			s := startTCP(t, units, TCPConfig{})
			checkOutcomes(t, goburrowTCP(t, s.Addr(), 1), tc.want)
		})
	}
}

// mbapRead3 reads holding registers 100..102 of unit 1 under transaction
// id 0x0102.
var mbapRead3 = []byte{0x01, 0x02, 0, 0, 0, 6, 1, 0x03, 0, 100, 0, 3}

func TestTCPExtraFrames(t *testing.T) {
	t.Parallel()
	pdu := append([]byte{0x03, 6}, regWords(1, 2, 0xFFFF)...)
	tests := []struct {
		name   string
		faults Faults
		want   [][]byte
	}{
		{name: "healthy", want: [][]byte{appendMBAP(nil, 0x0102, 1, pdu)}},
		{name: "stale transaction id first (FC-15.1)", faults: Faults{StaleTID: true},
			want: [][]byte{appendMBAP(nil, 0x0101, 1, pdu), appendMBAP(nil, 0x0102, 1, pdu)}},
		{name: "foreign unit first (FC-15.2)", faults: Faults{ForeignUnit: 9},
			want: [][]byte{appendMBAP(nil, 0x0102, 9, pdu), appendMBAP(nil, 0x0102, 1, pdu)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			units := testUnits(t)
			mustSet(t, units.SetFaults(1, tt.faults))
			conn := dialRaw(t, startTCP(t, units, TCPConfig{}).Addr())
			send(t, conn, mbapRead3)
			for i, want := range tt.want {
				if got := readN(t, conn, len(want)); !bytes.Equal(got, want) {
					t.Errorf("frame %d: got % X; want % X", i+1, got, want)
				}
			}
			wantSilence(t, conn, 50*time.Millisecond)
		})
	}
}

func TestTCPChunks(t *testing.T) {
	t.Parallel()
	gap := 30 * time.Millisecond
	units := testUnits(t)
	mustSet(t, units.SetFaults(1, Faults{Chunks: []int{2, 5}, ChunkGap: gap}))
	conn := dialRaw(t, startTCP(t, units, TCPConfig{}).Addr())

	start := time.Now()
	send(t, conn, mbapRead3)
	first := readN(t, conn, 2)
	rest := readN(t, conn, 7+2+6-2)
	if took := time.Since(start); took < 2*gap {
		t.Errorf("three chunks took %s; want at least two gaps, %s", took, 2*gap)
	}
	if got := append(first, rest...); !bytes.Equal(got[:2], mbapRead3[:2]) {
		t.Errorf("reply % X does not echo transaction id % X", got, mbapRead3[:2])
	}
}

func TestTCPConnections(t *testing.T) {
	t.Parallel()
	const clients, reads = 5, 20
	s := startTCP(t, testUnits(t), TCPConfig{})
	var wg sync.WaitGroup
	errs := make(chan error, clients*reads)
	for range clients {
		c := goburrowTCP(t, s.Addr(), 1)
		wg.Go(func() {
			for range reads {
				if got := outcome(c.ReadHoldingRegisters(100, 3)); got != "ok" {
					errs <- fmt.Errorf("read: %s", got)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := s.Stats().Units[1].Responses; got != clients*reads {
		t.Errorf("responses %d; want %d", got, clients*reads)
	}
}

func TestTCPDropsNonModbus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		head []byte
	}{
		{name: "protocol id 1", head: []byte{0, 1, 0, 1, 0, 6, 1}},
		{name: "length 1", head: []byte{0, 1, 0, 0, 0, 1, 1}},
		{name: "length 255", head: []byte{0, 1, 0, 0, 0, 255, 1}},
	}
	s := startTCP(t, testUnits(t), TCPConfig{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := dialRaw(t, s.Addr())
			send(t, conn, tt.head)
			_ = conn.SetReadDeadline(time.Now().Add(replyTimeout))
			if n, err := conn.Read(make([]byte, 16)); !errors.Is(err, io.EOF) {
				t.Errorf("after header % X: read %d bytes, %v; want the connection closed",
					tt.head, n, err)
			}
		})
	}
}

func TestTCPClose(t *testing.T) {
	t.Parallel()
	units := testUnits(t)
	mustSet(t, units.SetFaults(1, Faults{Latency: []time.Duration{time.Hour}}))
	s := startTCP(t, units, TCPConfig{})
	conn := dialRaw(t, s.Addr())
	send(t, conn, mbapRead3)
	time.Sleep(20 * time.Millisecond) // into the hour of latency

	done := make(chan error)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(replyTimeout):
		t.Fatal("Close waited for a reply's latency")
	}
}
