package modbus

import (
	"fmt"
	"sort"

	"go.bug.st/serial/enumerator"
)

// Port is a serial port the agent could poll a bus on, with what the
// operating system knows of the adapter behind it.
type Port struct {
	Name         string // device path, such as /dev/ttyUSB0
	USB          bool
	VID, PID     string // USB vendor and product ID, hex, when USB
	SerialNumber string // USB serial number, when the adapter has one
	Product      string
}

// ListPorts returns the serial ports present, sorted by name. An engineer
// uses the USB IDs to tell two identical-looking RS-485 adapters apart;
// USB devices are not actively probed, since probing can upset some
// adapters that are busy on a bus.
func ListPorts() ([]Port, error) {
	return listPorts(func() ([]*enumerator.PortDetails, error) {
		return enumerator.GetDetailedPortsList()
	})
}

func listPorts(enumerate func() ([]*enumerator.PortDetails, error)) ([]Port, error) {
	details, err := enumerate()
	if err != nil {
		return nil, fmt.Errorf("list serial ports: %w", err)
	}

	ports := make([]Port, 0, len(details))
	for _, d := range details {
		ports = append(ports, Port{
			Name:         d.Name,
			USB:          d.IsUSB,
			VID:          d.VID,
			PID:          d.PID,
			SerialNumber: d.SerialNumber,
			Product:      d.Product,
		})
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i].Name < ports[j].Name })
	return ports, nil
}
