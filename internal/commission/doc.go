// Package commission holds the commands an engineer runs at the box while
// commissioning a building: scan finds the slaves on a bus, read shows a
// range of raw registers with every way to decode them, and read-meter
// reads one meter through its profile as the agent would.
//
// Every command takes the same bus flags (-device, -tcp or
// -rtu-over-tcp, and the serial settings), declared once in bus.go, so
// that settings found with scan carry over to read, read-meter and the
// agent's configuration unchanged. A typical session:
//
//	esep-agent scan -device /dev/ttyUSB0 -baud 9600 -parity N
//	esep-agent read -device /dev/ttyUSB0 -parity N -slave 7 -function 4 -address 0 -count 4
//	esep-agent read-meter -device /dev/ttyUSB0 -parity N -slave 7 -profile eastron-sdm120
//
// Addresses are typed as the register map writes them and -base says
// which notation that is; nothing is shifted by one behind the
// engineer's back (FC-05). The commands print the wire address next to
// the typed one, so a map's convention can be checked against a reply.
package commission
