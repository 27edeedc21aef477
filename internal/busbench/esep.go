package busbench

import (
	"context"
	"fmt"

	"github.com/esep-kz/esep/drivers/modbus"
)

// Esep is esep's RTU master, drivers/modbus over go.bug.st/serial, open
// on a bus's pty.
type Esep struct {
	bus    *Bus
	client *modbus.Client
}

// OpenEsep opens esep's master on b's serial port at b's rate, 8N1, with
// opts. The port opens with the first read.
func OpenEsep(b *Bus, opts modbus.RTUOptions) (*Esep, error) {
	cfg := modbus.SerialConfig{Device: b.Path(), Baud: b.Baud, DataBits: 8, Parity: "N",
		StopBits: 1}
	tr, err := modbus.NewSerialRTU(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("cannot open esep's master on %q: %w", b.Path(), err)
	}
	return &Esep{bus: b, client: modbus.NewClient(tr)}, nil
}

// Close closes the serial port.
func (e *Esep) Close() error { return e.client.Close() }

// Poll reads cycle in turn cycles times and times it. Three cycles run
// first, untimed: they open the port, and leave a silent unit as it is
// in a long run, known dead after two guards listened through in vain
// (see modbus.RTUOptions.Guard). Those guards are what a unit costs
// once, when it falls silent; the timed cycles show what it costs each
// cycle.
func (e *Esep) Poll(ctx context.Context, cycle []Request, cycles int) (Run, error) {
	if _, _, err := e.cycles(ctx, cycle, 3); err != nil {
		return Run{}, err
	}
	return e.bus.measure(cycles, func() ([]Request, int, error) {
		return e.cycles(ctx, cycle, cycles)
	})
}

// cycles reads cycle n times. A read that fails is left out of the
// served ones, as a silent unit's is; a reply with other values than the
// simulator holds is an error.
func (e *Esep) cycles(ctx context.Context, cycle []Request, n int) ([]Request, int, error) {
	served := make([]Request, 0, n*len(cycle))
	for range n {
		for _, r := range cycle {
			regs, err := e.client.ReadRegisters(ctx, r.Unit, r.Func, r.Addr, r.Count)
			switch {
			case ctx.Err() != nil:
				return nil, 0, ctx.Err()
			case err != nil:
				continue
			}
			if err := checkValues(r, regs); err != nil {
				return nil, 0, err
			}
			served = append(served, r)
		}
	}
	return served, n * len(cycle), nil
}

// checkValues makes sure regs are the registers r asked for.
func checkValues(r Request, regs []uint16) error {
	if len(regs) != int(r.Count) {
		return fmt.Errorf("unit %d: %d registers at %d, want %d: %w",
			r.Unit, len(regs), r.Addr, r.Count, errWrongValues)
	}
	for i, v := range regs {
		addr := r.Addr + uint16(i)
		if want := registerValue(r.Unit, addr); v != want {
			return fmt.Errorf("unit %d register %d: got %#04x, want %#04x: %w",
				r.Unit, addr, v, want, errWrongValues)
		}
	}
	return nil
}
