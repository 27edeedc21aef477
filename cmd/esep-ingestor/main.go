// Command esep-ingestor is the esep central ingestor: subscribes to agents' readings, stores and forwards them.
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
	os.Exit(cli.Main("esep-ingestor", "the esep central ingestor: subscribes to agents' readings, stores and forwards them", os.Args[1:]))
}
