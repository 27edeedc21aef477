// Package busbench measures how close Modbus RTU masters come to the
// limit of the wire, on esep-sim's RTU bus on a pty (internal/sim), whose
// slaves pace their replies to the baud rate after a device turnaround.
//
// The wire limit of a poll run is the time its answered transactions
// occupy the bus: request and reply at 11 bits a character, the device's
// turnaround between them and the silent interval of 3.5 characters
// (1.75 ms above 19200 Bd) before the next request, as Modbus over Serial
// Line V1.02 §2.5.1.1 requires. A master that keeps that silence and
// wastes no time of its own reaches a ratio of 1 between this time and
// the wall time the run took. The wire time is computed from the frames
// and checked against the simulator's own count (sim.Stats.WireTime,
// which leaves out the silence).
//
// The measurements run esep's master (drivers/modbus over go.bug.st/serial)
// and, for comparison on the same bus, Debian's mbpoll (libmodbus); they
// plan the reads of one meter profile in three ways; and they time a bus
// with one silent unit. The benchmarks in this package's tests print the
// figures as markdown tables and REPORT lines for .ci/bench. The package
// is imported only from its tests; no binary links it.
package busbench
