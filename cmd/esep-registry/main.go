// Command esep-registry is the esep reference registry: the receiving side of the forwarding contract.
//
// The foundation provides its command frame; its commands arrive with the
// issues that build this part (see README.md, "Status").
package main

import (
	"os"
	// Periods are local to Asia/Almaty; the zone data travels in the binary.
	_ "time/tzdata"

	"github.com/esep-kz/esep/internal/cli"
)

func main() {
	os.Exit(cli.Main("esep-registry", "the esep reference registry: the receiving side of the forwarding contract", os.Args[1:]))
}
