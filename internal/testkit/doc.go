// Package testkit starts the real servers that esep's tests talk to: a
// Mosquitto broker, VictoriaMetrics, a PostgreSQL database and pymodbus
// Modbus slaves over TCP and over a socat pseudo-terminal pair.
//
// Every server listens on a free loopback port, keeps its files in the
// test's temporary directory and is stopped when the test ends. When a
// server's program is missing the test is skipped with the command that
// installs it; under CI=true a missing program fails the test instead,
// so a green CI run always means the real servers ran.
//
// The package is imported only from tests; no binary links it.
package testkit
