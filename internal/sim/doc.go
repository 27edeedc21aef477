// Package sim is the slave engine of esep-sim: Modbus slaves that behave
// like real meters, served over Modbus TCP and over Modbus RTU on a
// pseudo-terminal, for tests, the demo and the benchmark.
//
// A Units table maps each unit id 1..247 to a Device, the data behind one
// meter, and to the Faults that unit shows. Both can be replaced at run
// time while a server runs. Bank is the simplest Device, a register map
// for tests. Meter is the realistic one: it serves any meter profile's
// registers, encoded as the profile says, with the values of a simulated
// flat or building — indexes that grow with a daily pattern, noisy
// instantaneous values that agree with each other (P = V·I·pf, heat =
// flow·ΔT·c) — as a function of a Clock that can run faster than real
// time, deterministic for a seed. A Meter can be swapped for a new one
// and can start just below its counter's rollover.
//
// Config is esep-sim's configuration file and Start serves it: buses of
// Meters with their faults, on ptys and TCP.
//
// ServeRTU creates a pty pair and answers on its master end as a bus of
// slaves would: frames are delimited as Modbus over Serial Line V1.02
// §2.5.1.1 says, replies are paced to the configured baud rate at 11 bits
// a character and sent after the device's turnaround, so the wire time a
// client sees is the real one. ServeTCP answers Modbus TCP (MBAP) on a
// listener. Both count what they see in Stats.
//
// Faults reproduce the transport field cases FC-10 to FC-15:
// dead and intermittent units, fixed exception replies, corrupted CRCs,
// refused register ranges, latency scripts, replies split into chunks,
// replies from a foreign unit and, over TCP, under a stale transaction id.
package sim
