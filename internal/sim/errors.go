package sim

import "errors"

var (
	// ErrInvalidUnit means a unit id outside 1..247, the addresses a
	// Modbus slave may have (Modbus over Serial Line V1.02 §2.2).
	ErrInvalidUnit = errors.New("unit id is outside 1..247")

	// ErrInvalidFaults means a Faults value that cannot be applied, such
	// as a rate outside 0..1 or an exception code outside 1..11.
	ErrInvalidFaults = errors.New("invalid faults")

	// ErrInvalidConfig means a server configuration that cannot be
	// served, such as a baud rate that is not positive.
	ErrInvalidConfig = errors.New("invalid server configuration")

	// ErrInvalidMeter means a simulated meter that cannot be built from
	// its profile and settings, such as a serial that does not fit the
	// profile's serial register or a rollover on a float register.
	ErrInvalidMeter = errors.New("invalid simulated meter")

	// ErrNoPTY means that this system cannot create pseudo-terminals the
	// way ServeRTU does; only Linux is supported.
	ErrNoPTY = errors.New("pseudo-terminals are not supported on this system")
)
