package modbus

import (
	"errors"
	"reflect"
	"testing"

	"go.bug.st/serial/enumerator"
)

func TestListPortsMapsAndSorts(t *testing.T) {
	details := []*enumerator.PortDetails{
		{Name: "/dev/ttyUSB1", IsUSB: true, VID: "1a86", PID: "7523", Product: "USB Serial"},
		{Name: "/dev/ttyS0"},
		{Name: "/dev/ttyUSB0", IsUSB: true, VID: "0403", PID: "6001", SerialNumber: "A10K3B"},
	}
	got, err := listPorts(func() ([]*enumerator.PortDetails, error) { return details, nil })
	if err != nil {
		t.Fatal(err)
	}
	want := []Port{
		{Name: "/dev/ttyS0"},
		{Name: "/dev/ttyUSB0", USB: true, VID: "0403", PID: "6001", SerialNumber: "A10K3B"},
		{Name: "/dev/ttyUSB1", USB: true, VID: "1a86", PID: "7523", Product: "USB Serial"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("listPorts =\n%+v\nwant\n%+v", got, want)
	}
}

func TestListPortsWrapsError(t *testing.T) {
	cause := errors.New("permission denied")
	_, err := listPorts(func() ([]*enumerator.PortDetails, error) { return nil, cause })
	if !errors.Is(err, cause) {
		t.Errorf("error %v does not wrap %v", err, cause)
	}
}

// TestListPortsOnThisMachine runs the real enumerator: it must not fail
// on a machine with no USB adapters at all.
func TestListPortsOnThisMachine(t *testing.T) {
	ports, err := ListPorts()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		if p.Name == "" || (p.USB && p.VID == "") {
			t.Errorf("incomplete port %+v", p)
		}
	}
}
