package agent

import (
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/esep-kz/esep/internal/wire"
)

// inventory describes what the agent polls, for the retained inventory
// message: buses by name and speed (never a device path or address),
// the profiles in use with a hash of each, and the meters with what they
// last reported of themselves.
func inventory(c *Config, state *State, now time.Time) ([]byte, error) {
	inv := wire.Inventory{Agent: c.Agent.ID, Time: now.UTC()}
	for _, b := range c.Buses {
		bi := wire.BusInfo{Name: b.Name, Transport: b.Transport}
		if b.Transport != TransportTCP {
			bi.Baud = b.Baud
		}
		inv.Buses = append(inv.Buses, bi)
	}
	for _, name := range profileNames(c) {
		p := c.profiles[name]
		// The profile as loaded, re-encoded: any change of its map
		// changes the hash, whatever the file's comments or layout.
		data, err := yaml.Marshal(p)
		if err != nil {
			return nil, err
		}
		inv.Models = append(inv.Models, wire.ModelInfo{Profile: p.Name, Maker: p.Maker,
			Model: p.Model, Kind: p.Kind, Hash: wire.ProfileHash(data)})
	}
	for _, m := range c.Meters {
		mi := wire.MeterInfo{ID: m.ID, Bus: m.Bus, Slave: m.Slave, Profile: m.Profile,
			Interval: m.Interval}
		if rec, ok := state.Meter(m.ID); ok {
			mi.Serial, mi.Model, mi.Firmware = printable(rec.Serial), printable(rec.Model),
				printable(rec.Firmware)
		}
		inv.Meters = append(inv.Meters, mi)
	}
	slices.SortFunc(inv.Meters, func(a, b wire.MeterInfo) int {
		return strings.Compare(a.ID, b.ID)
	})
	return wire.EncodeInventory(inv)
}
