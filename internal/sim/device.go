package sim

import "github.com/esep-kz/esep/drivers/modbus"

// Function is a Modbus function code (Modbus Application Protocol V1.1b3
// §5.1). The engine serves the public read and write codes below; any
// other code is answered with illegal function.
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

// Exception is the exception code a Device answers with (Application
// Protocol §7), the driver's own type, so that codes and their names are
// defined once; zero means no exception.
type Exception = modbus.ExceptionCode

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
// that is not a Writer are answered with illegal function, as a
// read-only meter does.
type Writer interface {
	Device

	// WriteBits answers WriteSingleCoil and WriteMultipleCoils.
	WriteBits(addr uint16, values []bool) Exception

	// WriteRegisters answers WriteSingleRegister and
	// WriteMultipleRegisters.
	WriteRegisters(addr uint16, values []uint16) Exception
}
