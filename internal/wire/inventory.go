package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"time"
)

// Inventory is the retained message of the inventory topic: what the
// agent polls, so that the centre can authorise agent-to-meter pairs and
// tell a missing reading from a meter that is not there. It holds the
// field layout only: no device addresses, passwords or keys, and nothing
// about the people in the flats.
type Inventory struct {
	Agent  string
	Time   time.Time // when the agent loaded the configuration described
	Buses  []BusInfo
	Models []ModelInfo
	Meters []MeterInfo
}

// BusInfo is one field bus: its name, how it is reached, and its speed.
// The serial device path or the gateway's address stay at the agent.
type BusInfo struct {
	Name      string
	Transport string // rtu, tcp or rtu-over-tcp
	Baud      int    // bits per second; 0 for tcp, required for rtu
}

// ModelInfo is one meter profile in use: the model it describes and the
// hash of the profile file, which changes with any edit of the map.
type ModelInfo struct {
	Profile string // the profile's name
	Maker   string
	Model   string
	Kind    string // electricity, heat, water or gas
	Hash    string // ProfileHash of the profile file
}

// MeterInfo is one meter at the agent. Serial, Model and Firmware are
// what the meter last reported of itself, empty when not known.
type MeterInfo struct {
	ID       string
	Bus      string
	Slave    int           // Modbus unit address
	Profile  string        // a ModelInfo's Profile
	Interval time.Duration // polling interval, whole seconds
	Serial   string
	Model    string
	Firmware string
}

// Bus transports, as the agent configuration names them.
var transports = []string{"rtu", "tcp", "rtu-over-tcp"}

// Meter kinds, as profiles name them.
var meterKinds = []string{"electricity", "heat", "water", "gas"}

// hashRE is a ProfileHash.
var hashRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// ProfileHash returns the hash an inventory gives for a profile file's
// bytes: "sha256:" and the hex digest.
func ProfileHash(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// EncodeInventory returns the body of an inventory message.
func EncodeInventory(inv Inventory) ([]byte, error) {
	data, err := encodeInventory(inv)
	if err == nil {
		_, err = decodeInventory(data)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot encode inventory of agent %q: %w", inv.Agent, err)
	}
	return data, nil
}

// DecodeInventory reads an inventory message.
func DecodeInventory(body []byte) (Inventory, error) {
	inv, err := decodeInventory(body)
	if err != nil {
		return Inventory{}, fmt.Errorf("cannot decode inventory of agent %q: %w", inv.Agent, err)
	}
	return inv, nil
}

func decodeInventory(body []byte) (Inventory, error) {
	var j inventoryJSON
	if err := decodeDoc(body, &j); err != nil {
		return Inventory{}, err
	}
	return inventoryFromJSON(j)
}

func inventoryFromJSON(j inventoryJSON) (Inventory, error) {
	inv := Inventory{Agent: j.Agent}
	var err error
	if err = checkID("agent", j.Agent); err != nil {
		return inv, err
	}
	if inv.Time, err = parseTime("time", j.Time); err != nil {
		return inv, err
	}
	if inv.Buses, err = decodeBuses(j.Buses); err != nil {
		return inv, err
	}
	if inv.Models, err = decodeModels(j.Models); err != nil {
		return inv, err
	}
	inv.Meters, err = decodeMeters(j.Meters, inv.Buses, inv.Models)
	return inv, err
}

func decodeBuses(js []busJSON) ([]BusInfo, error) {
	if len(js) == 0 {
		return nil, invalid("buses", "missing or empty")
	}
	out := make([]BusInfo, 0, len(js))
	for i, b := range js {
		path := fmt.Sprintf("buses[%d].", i)
		if err := checkID(path+"name", b.Name); err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out, func(o BusInfo) bool { return o.Name == b.Name }) {
			return nil, invalid(path+"name", "%q appears twice", b.Name)
		}
		if !slices.Contains(transports, b.Transport) {
			return nil, invalid(path+"transport", "%q is not one of %v", b.Transport, transports)
		}
		baud, err := checkBaud(path+"baud", b)
		if err != nil {
			return nil, err
		}
		out = append(out, BusInfo{Name: b.Name, Transport: b.Transport, Baud: baud})
	}
	return out, nil
}

// maxBaud is well above any RS-485 meter's speed (Modbus serial line
// V1.02 §2.5.1 names 9600 and 19200; fast meters reach 115200).
const maxBaud = 4_000_000

func checkBaud(field string, b busJSON) (int, error) {
	switch {
	case b.Baud == nil && b.Transport == "rtu":
		return 0, invalid(field, "missing for an rtu bus")
	case b.Baud == nil:
		return 0, nil
	case *b.Baud < 1 || *b.Baud > maxBaud:
		return 0, invalid(field, "%d is not between 1 and %d", *b.Baud, maxBaud)
	}
	return *b.Baud, nil
}

func decodeModels(js []modelJSON) ([]ModelInfo, error) {
	if len(js) == 0 {
		return nil, invalid("models", "missing or empty")
	}
	out := make([]ModelInfo, 0, len(js))
	for i, m := range js {
		path := fmt.Sprintf("models[%d].", i)
		if err := checkModel(path, m); err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out, func(o ModelInfo) bool { return o.Profile == m.Profile }) {
			return nil, invalid(path+"profile", "%q appears twice", m.Profile)
		}
		out = append(out, ModelInfo(m))
	}
	return out, nil
}

func checkModel(path string, m modelJSON) error {
	if err := checkID(path+"profile", m.Profile); err != nil {
		return err
	}
	if err := checkPrintable(path+"maker", m.Maker); err != nil {
		return err
	}
	if err := checkPrintable(path+"model", m.Model); err != nil {
		return err
	}
	if !slices.Contains(meterKinds, m.Kind) {
		return invalid(path+"kind", "%q is not one of %v", m.Kind, meterKinds)
	}
	if !hashRE.MatchString(m.Hash) {
		return invalid(path+"hash", "%q is not sha256: and 64 lower-case hex digits", m.Hash)
	}
	return nil
}
