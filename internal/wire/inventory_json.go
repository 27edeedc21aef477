package wire

import (
	"fmt"
	"slices"
	"time"
)

// inventoryJSON is Inventory on the wire:
//
//	{"v":1,"agent":"bldg-0042","time":"2026-03-01T06:00:00.250Z",
//	 "buses":[{"name":"rs485-1","transport":"rtu","baud":9600}],
//	 "models":[{"profile":"eastron-sdm120","maker":"Eastron","model":"SDM120-Modbus",
//	   "kind":"electricity","hash":"sha256:..."}],
//	 "meters":[{"id":"apt-001-el","bus":"rs485-1","slave":1,
//	   "profile":"eastron-sdm120","interval_s":900,"serial":"39051234"}]}
type inventoryJSON struct {
	V      int         `json:"v"`
	Agent  string      `json:"agent"`
	Time   string      `json:"time"`
	Buses  []busJSON   `json:"buses,omitempty"`
	Models []modelJSON `json:"models,omitempty"`
	Meters []meterJSON `json:"meters,omitempty"`
}

// busJSON is a BusInfo; baud is left out for tcp.
type busJSON struct {
	Name      string `json:"name"`
	Transport string `json:"transport"`
	Baud      *int   `json:"baud,omitempty"`
}

// modelJSON is a ModelInfo.
type modelJSON struct {
	Profile string `json:"profile"`
	Maker   string `json:"maker"`
	Model   string `json:"model"`
	Kind    string `json:"kind"`
	Hash    string `json:"hash"`
}

// meterJSON is a MeterInfo; interval_s is the polling interval in
// seconds; serial, model and firmware are left out when not known.
type meterJSON struct {
	ID        string  `json:"id"`
	Bus       string  `json:"bus"`
	Slave     *int    `json:"slave"`
	Profile   string  `json:"profile"`
	IntervalS int64   `json:"interval_s"`
	Serial    *string `json:"serial,omitempty"`
	Model     *string `json:"model,omitempty"`
	Firmware  *string `json:"firmware,omitempty"`
}

func encodeInventory(inv Inventory) ([]byte, error) {
	t, err := formatTime("time", inv.Time)
	if err != nil {
		return nil, err
	}
	j := inventoryJSON{V: Version, Agent: inv.Agent, Time: t}
	for _, b := range inv.Buses {
		bj := busJSON{Name: b.Name, Transport: b.Transport}
		if b.Baud != 0 {
			bj.Baud = &b.Baud
		}
		j.Buses = append(j.Buses, bj)
	}
	for _, m := range inv.Models {
		j.Models = append(j.Models, modelJSON(m))
	}
	for i, m := range inv.Meters {
		if m.Interval%time.Second != 0 {
			return nil, invalid(fmt.Sprintf("meters[%d].interval_s", i),
				"%s is not whole seconds", m.Interval)
		}
		j.Meters = append(j.Meters, meterJSON{ID: m.ID, Bus: m.Bus, Slave: &m.Slave,
			Profile: m.Profile, IntervalS: int64(m.Interval / time.Second),
			Serial: optString(m.Serial), Model: optString(m.Model),
			Firmware: optString(m.Firmware)})
	}
	return marshal(j)
}

// optString returns nil for "", so the field is left out.
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// maxInterval bounds a polling interval: a month, far above any real
// schedule, and far from overflowing a time.Duration.
const maxInterval = 31 * 24 * 3600

func decodeMeters(js []meterJSON, buses []BusInfo, models []ModelInfo) ([]MeterInfo, error) {
	if len(js) == 0 {
		return nil, invalid("meters", "missing or empty")
	}
	out := make([]MeterInfo, 0, len(js))
	for i, m := range js {
		path := fmt.Sprintf("meters[%d].", i)
		mi, err := decodeMeter(path, m, buses, models)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out, func(o MeterInfo) bool { return o.ID == m.ID }) {
			return nil, invalid(path+"id", "%q appears twice", m.ID)
		}
		out = append(out, mi)
	}
	return out, nil
}

func decodeMeter(path string, m meterJSON, buses []BusInfo, models []ModelInfo) (MeterInfo, error) {
	if err := checkID(path+"id", m.ID); err != nil {
		return MeterInfo{}, err
	}
	if !slices.ContainsFunc(buses, func(b BusInfo) bool { return b.Name == m.Bus }) {
		return MeterInfo{}, invalid(path+"bus", "%q is not a bus of the inventory", m.Bus)
	}
	if !slices.ContainsFunc(models, func(o ModelInfo) bool { return o.Profile == m.Profile }) {
		return MeterInfo{}, invalid(path+"profile", "%q is not a model of the inventory",
			m.Profile)
	}
	// Modbus unit addresses are one byte; TCP gateways use all of them.
	if m.Slave == nil || *m.Slave < 0 || *m.Slave > 255 {
		return MeterInfo{}, invalid(path+"slave", "missing or not between 0 and 255")
	}
	if m.IntervalS < 1 || m.IntervalS > maxInterval {
		return MeterInfo{}, invalid(path+"interval_s", "missing or not between 1 and %d",
			maxInterval)
	}
	mi := MeterInfo{ID: m.ID, Bus: m.Bus, Slave: *m.Slave, Profile: m.Profile,
		Interval: time.Duration(m.IntervalS) * time.Second}
	ids := []struct {
		field string
		in    *string
		out   *string
	}{{"serial", m.Serial, &mi.Serial}, {"model", m.Model, &mi.Model},
		{"firmware", m.Firmware, &mi.Firmware}}
	for _, id := range ids {
		if id.in == nil {
			continue
		}
		if err := checkPrintable(path+id.field, *id.in); err != nil {
			return MeterInfo{}, err
		}
		*id.out = *id.in
	}
	return mi, nil
}
