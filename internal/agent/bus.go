package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/esep-kz/esep/drivers/modbus"
)

// busConn is one bus of the poller: the Client that every meter on the
// bus shares, which carries one transaction at a time.
type busConn struct {
	Bus
	client *modbus.Client
}

// openBus makes the transport and client of b. Nothing is opened yet:
// the transport opens its port or connection on the first request, and
// again after it broke. timeouts holds the meters' own timeouts by slave.
func openBus(b Bus, timeouts map[byte]time.Duration) (*busConn, error) {
	tr, err := newTransport(b, timeouts)
	if err != nil {
		return nil, fmt.Errorf("cannot set up bus %q: %w", b.Name, err)
	}
	return &busConn{Bus: b, client: modbus.NewClient(tr)}, nil
}

// newTransport returns the transport of b's kind. It is named for the
// bus, as configured, so that its errors name what the engineer named;
// errors of opening the port or dialing name the device or address.
func newTransport(b Bus, timeouts map[byte]time.Duration) (modbus.Transport, error) {
	rtu := modbus.RTUOptions{Baud: b.Baud, Timeout: b.Timeout, SlaveTimeouts: timeouts,
		Guard: b.Guard, ConnectTimeout: b.ConnectTimeout}
	switch b.Transport {
	case TransportRTU:
		open, err := modbus.SerialLine(modbus.SerialConfig{Device: b.Device, Baud: b.Baud,
			DataBits: b.DataBits, Parity: b.Parity, StopBits: b.StopBits})
		if err != nil {
			return nil, err
		}
		return orNil(modbus.NewRTU(b.Name, open, rtu))
	case TransportTCP:
		opts := modbus.TCPOptions{Timeout: b.Timeout, SlaveTimeouts: timeouts,
			ConnectTimeout: b.ConnectTimeout}
		return orNil(modbus.NewTCP(b.Name, modbus.TCPLine(b.Address), opts))
	case TransportRTUOverTCP:
		// Baud is the serial side of the device server: it times the
		// silent interval between frames there.
		return orNil(modbus.NewRTU(b.Name, modbus.TCPLine(b.Address), rtu))
	}
	return nil, fmt.Errorf("transport %q is not one of rtu, tcp, rtu-over-tcp", b.Transport)
}

// orNil returns a nil Transport, not a nil pointer inside one, on error.
func orNil[T modbus.Transport](tr T, err error) (modbus.Transport, error) {
	if err != nil {
		return nil, err
	}
	return tr, nil
}

// reader returns the block reader of one slave: one request on the wire
// per call, registers as read, bits as words of 0 or 1.
func (b *busConn) reader(slave byte) modbus.BlockReader {
	return func(ctx context.Context, fn byte, addr, count uint16) ([]uint16, error) {
		f := modbus.Function(fn)
		if f != modbus.FuncCoils && f != modbus.FuncDiscrete {
			return b.client.ReadRegisters(ctx, slave, f, addr, count)
		}

		bits, err := b.client.ReadBits(ctx, slave, f, addr, count)
		if err != nil {
			return nil, err
		}
		words := make([]uint16, len(bits))
		for i, on := range bits {
			if on {
				words[i] = 1
			}
		}
		return words, nil
	}
}

// isIllegalAddress is the refusal test of a DevicePlan: an exception of
// the permanent class, codes 1–3, which the device answers again to the
// same request. The plan splits the refused request and skips what it
// refuses for a while, rather than asking for it every cycle. Exception
// 2 is the usual one; some meters answer 1 or 3 to registers they lack.
func isIllegalAddress(err error) bool { return isPermanent(err) }

// isPermanent reports whether err is an exception no retry mends: the
// device refuses the point as configured (FC-12 item 3, codes 1–3).
func isPermanent(err error) bool {
	var exc *modbus.ExceptionError
	return errors.As(err, &exc) && exc.Class() == modbus.ClassPermanent
}
