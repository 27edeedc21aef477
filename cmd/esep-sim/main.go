// Command esep-sim is the esep meter simulator: Modbus slaves that behave like real meters.
//
// The foundation provides its command frame; its commands arrive with the
// issues that build this part (see README.md, "Status").
package main

import (
	"os"

	"github.com/esep-kz/esep/internal/cli"
)

func main() {
	os.Exit(cli.Main("esep-sim", "the esep meter simulator: Modbus slaves that behave like real meters", os.Args[1:]))
}
