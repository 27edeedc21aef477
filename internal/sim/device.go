package sim

import "fmt"

// Function is a Modbus function code (Modbus Application Protocol V1.1b3
// §5.1). The engine serves the public read and write codes below; any
// other code is answered with IllegalFunction.
type Function byte

// The function codes the engine serves (Application Protocol §6.1–§6.12).
const (
	ReadCoils              Function = 0x01
	ReadDiscreteInputs     Function = 0x02
	ReadHoldingRegisters   Function = 0x03
	ReadInputRegisters     Function = 0x04
	WriteSingleCoil        Function = 0x05
	WriteSingleRegister    Function = 0x06
	WriteMultipleCoils     Function = 0x0F
	WriteMultipleRegisters Function = 0x10
)

// Exception is a Modbus exception code (Application Protocol §7); zero
// means no exception.
type Exception byte

// The exception codes of Application Protocol §7. NegativeAcknowledge
// comes from the older Modicon PI-MBUS-300 and is still seen in the field.
const (
	IllegalFunction              Exception = 0x01
	IllegalDataAddress           Exception = 0x02
	IllegalDataValue             Exception = 0x03
	ServerDeviceFailure          Exception = 0x04
	Acknowledge                  Exception = 0x05
	ServerDeviceBusy             Exception = 0x06
	NegativeAcknowledge          Exception = 0x07
	MemoryParityError            Exception = 0x08
	GatewayPathUnavailable       Exception = 0x0A
	GatewayTargetFailedToRespond Exception = 0x0B
)

var exceptionNames = map[Exception]string{
	IllegalFunction:              "illegal function",
	IllegalDataAddress:           "illegal data address",
	IllegalDataValue:             "illegal data value",
	ServerDeviceFailure:          "server device failure",
	Acknowledge:                  "acknowledge",
	ServerDeviceBusy:             "server device busy",
	NegativeAcknowledge:          "negative acknowledge",
	MemoryParityError:            "memory parity error",
	GatewayPathUnavailable:       "gateway path unavailable",
	GatewayTargetFailedToRespond: "gateway target device failed to respond",
}

// String names the exception as Application Protocol §7 does.
func (e Exception) String() string {
	if name, ok := exceptionNames[e]; ok {
		return name
	}
	return fmt.Sprintf("exception %d", byte(e))
}

// Device is the data behind one unit id: what a meter answers. The engine
// checks quantities and address overflow before it calls a Device, so a
// Device sees only requests that are well formed (1..2000 bits, 1..125
// registers); it returns exactly count values, or an exception and no
// values. A Device is called from several goroutines at once when a unit
// is served over more than one connection, so it must be safe for that.
type Device interface {
	// ReadBits answers ReadCoils and ReadDiscreteInputs.
	ReadBits(fn Function, addr, count uint16) ([]bool, Exception)

	// ReadRegisters answers ReadHoldingRegisters and ReadInputRegisters.
	ReadRegisters(fn Function, addr, count uint16) ([]uint16, Exception)
}

// Writer is a Device that also accepts writes. Write requests to a Device
// that is not a Writer are answered with IllegalFunction, as a read-only
// meter does.
type Writer interface {
	Device

	// WriteBits answers WriteSingleCoil and WriteMultipleCoils.
	WriteBits(addr uint16, values []bool) Exception

	// WriteRegisters answers WriteSingleRegister and
	// WriteMultipleRegisters.
	WriteRegisters(addr uint16, values []uint16) Exception
}
