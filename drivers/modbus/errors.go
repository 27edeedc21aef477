package modbus

import (
	"context"
	"errors"
	"fmt"

	goburrow "github.com/goburrow/modbus"
)

// Errors of a Modbus transaction. Transports and the Client wrap them with
// the bus, slave and request, so callers branch with errors.Is; a slave's
// exception reply is an *ExceptionError instead, found with errors.As.
var (
	// ErrTimeout means no complete reply for the request came within the
	// response timeout: the slave is silent, absent or slower than allowed.
	ErrTimeout = errors.New("response timeout")

	// ErrCRC means an RTU reply of the addressed slave arrived whole but
	// its CRC-16 did not match (serial line spec V1.02 §2.5.1.2).
	ErrCRC = errors.New("reply crc mismatch")

	// ErrShortFrame means a reply began but ended before the length its
	// header announced, within the response timeout.
	ErrShortFrame = errors.New("reply frame cut short")

	// ErrBadFrame means a reply could not be framed at all: an MBAP length
	// outside 2..254, or a PDU the framing library rejected.
	ErrBadFrame = errors.New("malformed reply frame")

	// ErrWrongSlave means a Modbus TCP reply carried the request's
	// transaction id but another unit id: a gateway routed it wrongly.
	ErrWrongSlave = errors.New("reply unit id mismatch")

	// ErrWrongFunction means a reply of the addressed slave carried a
	// function code that is neither the request's nor its exception form.
	ErrWrongFunction = errors.New("reply function code mismatch")

	// ErrByteCount means a read reply's byte count does not match the
	// quantity requested, so its values cannot be assigned to addresses.
	ErrByteCount = errors.New("reply byte count mismatch")

	// ErrConnection means the serial port or TCP connection could not be
	// opened or broke during a transaction; the next one opens it again.
	ErrConnection = errors.New("bus connection failed")

	// ErrInvalidRequest means the request itself is outside the protocol:
	// a slave address, function code or quantity no device could serve.
	ErrInvalidRequest = errors.New("invalid request")

	// ErrConfig means a transport's settings are impossible, such as a
	// parity other than N, E or O, or a negative timeout.
	ErrConfig = errors.New("invalid transport settings")

	// ErrClosed means the transport was closed by its owner.
	ErrClosed = errors.New("transport closed")
)

// ExceptionCode is the code of a Modbus exception reply (Modbus
// application protocol V1.1b3 §7).
type ExceptionCode byte

// Exception codes of the Modbus application protocol V1.1b3 §7.
const (
	IllegalFunction              ExceptionCode = 1
	IllegalDataAddress           ExceptionCode = 2
	IllegalDataValue             ExceptionCode = 3
	ServerDeviceFailure          ExceptionCode = 4
	Acknowledge                  ExceptionCode = 5
	ServerDeviceBusy             ExceptionCode = 6
	MemoryParityError            ExceptionCode = 8
	GatewayPathUnavailable       ExceptionCode = 10
	GatewayTargetFailedToRespond ExceptionCode = 11
)

var exceptionNames = map[ExceptionCode]string{
	IllegalFunction:              "illegal function",
	IllegalDataAddress:           "illegal data address",
	IllegalDataValue:             "illegal data value",
	ServerDeviceFailure:          "server device failure",
	Acknowledge:                  "acknowledge",
	ServerDeviceBusy:             "server device busy",
	MemoryParityError:            "memory parity error",
	GatewayPathUnavailable:       "gateway path unavailable",
	GatewayTargetFailedToRespond: "gateway target failed to respond",
}

// String returns the name the specification gives the code.
func (c ExceptionCode) String() string {
	if name, ok := exceptionNames[c]; ok {
		return name
	}
	return fmt.Sprintf("unknown exception %d", byte(c))
}

// ExceptionClass tells a poller what to do about an exception.
type ExceptionClass int

// Exception classes, from FC-12 item 3 of the field cases.
const (
	// ClassUnknown is a code the specification does not define.
	ClassUnknown ExceptionClass = iota
	// ClassPermanent (codes 1–3): the point or its configuration is wrong;
	// stop polling it every cycle and report it.
	ClassPermanent
	// ClassBusy (codes 5, 6): the device accepted or postponed the request;
	// retry later.
	ClassBusy
	// ClassDeviceFailure (codes 4, 8): the device failed internally.
	ClassDeviceFailure
	// ClassGatewayConfig (code 10): the gateway has no path to the unit,
	// usually a unit id with no device behind it.
	ClassGatewayConfig
	// ClassGatewayTransient (code 11): the gateway's target did not answer;
	// back off and keep one transaction at a time on that bus.
	ClassGatewayTransient
)

var classNames = [...]string{
	ClassUnknown:          "unknown",
	ClassPermanent:        "permanent",
	ClassBusy:             "busy",
	ClassDeviceFailure:    "device failure",
	ClassGatewayConfig:    "gateway config",
	ClassGatewayTransient: "gateway transient",
}

// String returns the class name used in logs and metric labels.
func (c ExceptionClass) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return classNames[ClassUnknown]
	}
	return classNames[c]
}

// Class returns what a poller should do about the code.
func (c ExceptionCode) Class() ExceptionClass {
	switch c {
	case IllegalFunction, IllegalDataAddress, IllegalDataValue:
		return ClassPermanent
	case Acknowledge, ServerDeviceBusy:
		return ClassBusy
	case ServerDeviceFailure, MemoryParityError:
		return ClassDeviceFailure
	case GatewayPathUnavailable:
		return ClassGatewayConfig
	case GatewayTargetFailedToRespond:
		return ClassGatewayTransient
	}
	return ClassUnknown
}

// ExceptionError is a slave's exception reply to a request: a well-formed
// answer that carries no value (application protocol V1.1b3 §7).
type ExceptionError struct {
	Function Function // function code of the request, without the 0x80 bit
	Code     ExceptionCode
}

// Error names the code and the function it answered.
func (e *ExceptionError) Error() string {
	return fmt.Sprintf("exception %d (%s) to function %d", byte(e.Code), e.Code, byte(e.Function))
}

// Class returns what a poller should do about the exception.
func (e *ExceptionError) Class() ExceptionClass { return e.Code.Class() }

// fromGoburrow maps what goburrow's client returns to this package's
// errors. Its exception type becomes an *ExceptionError; its other errors
// are plain strings, and the transports verify every reply before goburrow
// sees it, so any that remain mean a frame goburrow could not take.
func fromGoburrow(err error) error {
	if err == nil {
		return nil
	}

	var mbErr *goburrow.ModbusError
	if errors.As(err, &mbErr) {
		return &ExceptionError{
			Function: Function(mbErr.FunctionCode &^ 0x80),
			Code:     ExceptionCode(mbErr.ExceptionCode),
		}
	}
	if isOwnError(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrBadFrame, err)
}

// ownErrors are the errors fromGoburrow passes through unchanged: this
// package's sentinels, and the end of the caller's context, which is no
// fault of the frame.
var ownErrors = []error{
	ErrTimeout, ErrCRC, ErrShortFrame, ErrBadFrame, ErrWrongSlave,
	ErrWrongFunction, ErrByteCount, ErrConnection, ErrInvalidRequest, ErrConfig, ErrClosed,
	context.Canceled, context.DeadlineExceeded,
}

// isOwnError reports whether err wraps one of this package's sentinels or
// an *ExceptionError.
func isOwnError(err error) bool {
	var exc *ExceptionError
	if errors.As(err, &exc) {
		return true
	}
	for _, sentinel := range ownErrors {
		if errors.Is(err, sentinel) {
			return true
		}
	}
	return false
}

// Errors of decoding register words into a number. Decode wraps them with
// the type and the words, so callers branch with errors.Is.
var (
	// ErrBadBCD means a BCD value holds a nibble A–F that is not a digit,
	// or an F sign nibble where the type declares none (FC-06.2): the
	// register most likely holds a binary number.
	ErrBadBCD = errors.New("invalid bcd digit")

	// ErrNotANumber means a float register holds NaN or an infinity. Meters
	// send them for "no value"; they are never data.
	ErrNotANumber = errors.New("not a number")

	// ErrBadOrder means an order string is not one of the accepted forms
	// for the type's register count (FC-07).
	ErrBadOrder = errors.New("invalid byte order")

	// ErrBadType means a type name is not one esep knows.
	ErrBadType = errors.New("unknown register type")

	// ErrWordCount means the words given do not match the register count
	// of the type.
	ErrWordCount = errors.New("wrong number of registers")
)

// ErrSplitDeferred marks a value not read in this cycle: the request that
// serves it was refused (exception 1–3), and the search for
// the refused registers spent its budget for the cycle. The search goes
// on in the next cycle, so the value is missing now, not for good.
var ErrSplitDeferred = errors.New("refused request still being split, value read next cycle")

// ErrBadAddress means an address is outside what its addressing allows.
var ErrBadAddress = errors.New("invalid register address")

var (
	// ErrNotRead means a poll has no words for registers a profile needs:
	// the request that serves them failed or was never made.
	ErrNotRead = errors.New("registers not read")

	// ErrBadScale means a scale register holds no usable scale factor:
	// SunSpec's "not implemented" 0x8000, or an exponent outside -10..10
	// (SunSpec information model specification, sunssf).
	ErrBadScale = errors.New("unusable scale factor")

	// ErrNotAvailable means a value's registers hold a raw value the
	// profile lists as not_available: the maker's marker for a quantity
	// the meter does not have now, never a reading.
	ErrNotAvailable = errors.New("meter marks the value not available")
)

// ErrUnknownProfile means no profile has the name asked for.
var ErrUnknownProfile = errors.New("unknown meter profile")

// ErrNotEncodable means a number or text cannot be sent as a value of
// the type asked for: it lies outside the type's range, has a fraction an
// integer or BCD type cannot carry, or is text that is not ASCII or does
// not fit its registers. A simulated meter answers with it what a real
// one could never send.
var ErrNotEncodable = errors.New("value does not fit the register type")
