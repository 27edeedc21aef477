package wire

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// started is when the test agent process started.
var started = time.Date(2026, 3, 1, 1, 0, 3, 250_000_000, time.UTC)

func inventory() Inventory {
	hash := ProfileHash([]byte("name: eastron-sdm120\n"))
	return Inventory{Agent: "bldg-0042", Time: started,
		Buses: []BusInfo{{Name: "rs485-1", Transport: "rtu", Baud: 9600},
			{Name: "heat-gw", Transport: "tcp"}},
		Models: []ModelInfo{{Profile: "eastron-sdm120", Maker: "Eastron",
			Model: "SDM120-Modbus", Kind: "electricity", Hash: hash}},
		Meters: []MeterInfo{
			{ID: "apt-001-el", Bus: "rs485-1", Slave: 1, Profile: "eastron-sdm120",
				Interval: 15 * time.Minute, Serial: "21450001"},
			{ID: "apt-002-el", Bus: "heat-gw", Slave: 2, Profile: "eastron-sdm120",
				Interval: time.Hour},
		}}
}

// roundTrip encodes v with enc, decodes the result with dec, and fails t
// unless the result prints as v does.
func roundTrip[T any](t *testing.T, v T, enc func(T) ([]byte, error),
	dec func([]byte) (T, error)) []byte {
	t.Helper()
	data, err := enc(v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dec(data)
	if err != nil {
		t.Fatalf("decoding %s: %v", data, err)
	}
	if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", v); g != w {
		t.Errorf("%s\ncame back as %s\nwant        %s", data, g, w)
	}
	return data
}

func TestMessagesRoundTrip(t *testing.T) {
	t.Run("online", func(t *testing.T) {
		roundTrip(t, Status{Agent: "bldg-0042", State: StateOnline, Version: "v0.4.0 3f2a9c1",
			Started: started}, EncodeStatus, DecodeStatus)
	})
	t.Run("last will", func(t *testing.T) {
		data := roundTrip(t, Status{Agent: "bldg-0042", State: StateOffline},
			EncodeStatus, DecodeStatus)
		if want := `{"v":1,"agent":"bldg-0042","state":"offline"}`; string(data) != want {
			t.Errorf("last will is %s, want %s", data, want)
		}
	})
	t.Run("inventory", func(t *testing.T) {
		roundTrip(t, inventory(), EncodeInventory, DecodeInventory)
	})
	t.Run("command", func(t *testing.T) {
		roundTrip(t, Command{Cmd: ResendRequest, ID: "rs-1", From: 1200, To: 1450},
			EncodeCommand, DecodeCommand)
	})
	t.Run("resend answer", func(t *testing.T) {
		roundTrip(t, ResendAnswer{Agent: "bldg-0042", ID: "rs-1", From: 1200, To: 1450,
			Resent: 240, Gone: []Range{{1200, 1205}, {1300, 1304}}}, EncodeResend, DecodeResend)
	})
	t.Run("resend failed", func(t *testing.T) {
		roundTrip(t, ResendAnswer{Agent: "bldg-0042", ID: "rs-2", From: 1, To: 1,
			Error: "spool closed"}, EncodeResend, DecodeResend)
	})
}

func TestMessagesRefused(t *testing.T) {
	inv := func(edit func(*Inventory)) func() ([]byte, error) {
		return func() ([]byte, error) {
			i := inventory()
			edit(&i)
			return EncodeInventory(i)
		}
	}
	tests := []struct {
		name string
		enc  func() ([]byte, error)
		want string
	}{
		{"online without version", func() ([]byte, error) {
			return EncodeStatus(Status{Agent: "a1", State: StateOnline, Started: started})
		}, "an online status has version and started"},
		{"unknown state", func() ([]byte, error) {
			return EncodeStatus(Status{Agent: "a1", State: "asleep"})
		}, `state: "asleep" is not online or offline`},
		{"meter on an unknown bus", inv(func(i *Inventory) { i.Meters[0].Bus = "rs485-9" }),
			`meters[0].bus: "rs485-9" is not a bus of the inventory`},
		{"meter of an unknown profile", inv(func(i *Inventory) { i.Meters[1].Profile = "x" }),
			`meters[1].profile: "x" is not a model`},
		{"meter twice", inv(func(i *Inventory) { i.Meters[1].ID = "apt-001-el" }),
			`meters[1].id: "apt-001-el" appears twice`},
		{"rtu without baud", inv(func(i *Inventory) { i.Buses[0].Baud = 0 }),
			"buses[0].baud: missing for an rtu bus"},
		{"unknown transport", inv(func(i *Inventory) { i.Buses[1].Transport = "lora" }),
			`buses[1].transport: "lora" is not one of`},
		{"slave out of range", inv(func(i *Inventory) { i.Meters[0].Slave = 256 }),
			"meters[0].slave"},
		{"interval under a second", inv(func(i *Inventory) {
			i.Meters[0].Interval = 1500 *
				time.Millisecond
		}), "meters[0].interval_s: 1.5s is not whole seconds"},
		{"hash not sha256", inv(func(i *Inventory) { i.Models[0].Hash = "v1.2" }),
			`models[0].hash: "v1.2" is not sha256`},
		{"no meters", inv(func(i *Inventory) { i.Meters = nil }), "meters: missing or empty"},
		{"unknown command", func() ([]byte, error) {
			return EncodeCommand(Command{Cmd: "reboot", ID: "c1", From: 1, To: 1})
		}, `cmd: "reboot" is not a command of schema v1`},
		{"range backwards", func() ([]byte, error) {
			return EncodeCommand(Command{Cmd: ResendRequest, ID: "c1", From: 9, To: 3})
		}, "to: 3 is before from, 9"},
		{"range from 0", func() ([]byte, error) {
			return EncodeCommand(Command{Cmd: ResendRequest, ID: "c1", To: 3})
		}, "from: missing or 0"},
		{"gone outside", func() ([]byte, error) {
			return EncodeResend(ResendAnswer{Agent: "a1", ID: "c1", From: 10, To: 20,
				Gone: []Range{{5, 12}}})
		}, "gone[0].from: 5-12 is outside the request's 10-20"},
		{"gone overlapping", func() ([]byte, error) {
			return EncodeResend(ResendAnswer{Agent: "a1", ID: "c1", From: 10, To: 20,
				Gone: []Range{{10, 12}, {12, 13}}})
		}, "gone[1].from: 12 overlaps or precedes gone[0]"},
		{"resent more than asked", func() ([]byte, error) {
			return EncodeResend(ResendAnswer{Agent: "a1", ID: "c1", From: 10, To: 20,
				Resent: 10, Gone: []Range{{10, 11}}})
		}, "resent: 10 and 2 gone are more than the 11 seqs asked for"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.enc()
			wantErr(t, err, "cannot encode", tt.want)
		})
	}
}

// TestInventoryHasNoSecrets checks that the inventory carries the field
// layout and nothing of how to reach it or who lives there.
func TestInventoryHasNoSecrets(t *testing.T) {
	data, err := EncodeInventory(inventory())
	if err != nil {
		t.Fatal(err)
	}
	for _, word := range []string{"device", "address", "password", "key", "name\":\"apt",
		"owner", "account", "phone"} {
		if strings.Contains(string(data), word) {
			t.Errorf("inventory %s holds %q", data, word)
		}
	}
}
