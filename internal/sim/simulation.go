package sim

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"
)

// Simulation is the buses of a Config, served: each an RTU server on a
// pty or a TCP server, with a profile-driven Meter behind each unit.
type Simulation struct {
	clock *ScaledClock
	buses []*Bus
}

// Bus is one served bus.
type Bus struct {
	Config BusConfig
	Units  *Units
	Meters []UnitMeter // by slave id

	rtu *RTUServer
	tcp *TCPServer
}

// UnitMeter is the meter behind one slave id and the unit that made it.
type UnitMeter struct {
	Slave byte
	Meter *Meter
	Unit  *UnitConfig
}

// Start serves the buses of cfg, which Validate has checked, until ctx
// ends or Close is called. Simulated time starts at cfg.Start, or now.
func Start(ctx context.Context, cfg *Config) (*Simulation, error) {
	start := cfg.Start
	if start.IsZero() {
		start = time.Now()
	}
	clock, err := NewScaledClock(start, cfg.TimeScale)
	if err != nil {
		return nil, err
	}

	s := &Simulation{clock: clock}
	for i := range cfg.Buses {
		b, err := s.startBus(ctx, cfg, &cfg.Buses[i])
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("cannot start bus %q: %w", cfg.Buses[i].Name, err)
		}
		s.buses = append(s.buses, b)
	}
	return s, nil
}

func (s *Simulation) startBus(ctx context.Context, cfg *Config, bc *BusConfig) (*Bus, error) {
	b := &Bus{Config: *bc, Units: NewUnits()}
	for i := range bc.Units {
		if err := b.addUnits(cfg, &bc.Units[i], s.clock); err != nil {
			return nil, err
		}
	}

	var err error
	switch bc.Transport {
	case TransportRTU:
		b.rtu, err = ServeRTU(ctx, b.Units, RTUConfig{Baud: bc.Baud, Turnaround: bc.Turnaround,
			Link: bc.Link})
	case TransportTCP:
		b.tcp, err = ServeTCP(ctx, b.Units, TCPConfig{Addr: bc.Listen, Turnaround: bc.Turnaround,
			NoDevice: Exception(bc.NoDevice)})
	default:
		err = fmt.Errorf("transport %q: %w", bc.Transport, ErrInvalidConfig)
	}
	return b, err
}

// addUnits puts a meter, with its faults, behind each slave id of u.
func (b *Bus) addUnits(cfg *Config, u *UnitConfig, clock *ScaledClock) error {
	p, err := cfg.profiles.Get(u.Profile)
	if err != nil {
		return err
	}
	for _, slave := range u.Slaves() {
		seed := unitSeed(b.Config.Name, slave, u.Seed)
		mc := MeterConfig{Profile: p, Clock: clock, Start: clock.Start(), Seed: seed,
			Serial: u.Serial, Index: u.Index, Rollover: u.Rollover, Strict: u.Strict}
		if u.SwapAt > 0 {
			mc.SwapAt = clock.Start().Add(u.SwapAt)
		}
		m, err := NewMeter(mc)
		if err != nil {
			return fmt.Errorf("slave %d: %w", slave, err)
		}
		if err := b.Units.SetDevice(slave, m); err != nil {
			return err
		}
		if err := b.Units.SetFaults(slave, u.Faults.faults(seed)); err != nil {
			return err
		}
		b.Meters = append(b.Meters, UnitMeter{Slave: slave, Meter: m, Unit: u})
	}
	return nil
}

// unitSeed mixes a unit's seed with its bus and slave id, so that no two
// meters of a configuration are twins unless a person asks for it.
func unitSeed(bus string, slave byte, seed uint64) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(bus))
	return mix64(seed ^ mix64(uint64(slave)) ^ h.Sum64())
}

// Clock returns the simulated time the meters show.
func (s *Simulation) Clock() *ScaledClock { return s.clock }

// Buses returns the served buses, in configuration order.
func (s *Simulation) Buses() []*Bus { return s.buses }

// Close stops every bus.
func (s *Simulation) Close() error {
	var errs []error
	for _, b := range s.buses {
		errs = append(errs, b.close())
	}
	return errors.Join(errs...)
}

// Swapped is a meter that a swap replaced.
type Swapped struct {
	Bus    string
	Slave  byte
	Serial string // of the new meter
}

// SwapMarked swaps every meter whose unit sets swap_on_signal.
func (s *Simulation) SwapMarked() []Swapped {
	var out []Swapped
	for _, b := range s.buses {
		for _, um := range b.Meters {
			if um.Unit.SwapOnSignal {
				out = append(out, Swapped{b.Config.Name, um.Slave, um.Meter.Swap()})
			}
		}
	}
	return out
}

// Where returns where a client finds the bus: the pty's device and its
// link, or the TCP address with the port that was picked.
func (b *Bus) Where() string {
	switch {
	case b.tcp != nil:
		return b.tcp.Addr()
	case b.rtu != nil && b.rtu.Link() != "":
		return b.rtu.Link() + " -> " + b.rtu.Path()
	case b.rtu != nil:
		return b.rtu.Path()
	}
	return ""
}

// Stats returns what the bus's server counted so far.
func (b *Bus) Stats() Stats {
	if b.tcp != nil {
		return b.tcp.Stats()
	}
	if b.rtu != nil {
		return b.rtu.Stats()
	}
	return Stats{}
}

func (b *Bus) close() error {
	if b.tcp != nil {
		return b.tcp.Close()
	}
	if b.rtu != nil {
		return b.rtu.Close()
	}
	return nil
}
