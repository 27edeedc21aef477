package commission

import "github.com/esep-kz/esep/internal/cli"

// Commands returns the commissioning commands: scan, read and
// read-meter.
func Commands() []cli.Command {
	return []cli.Command{Scan(), Read(), ReadMeter()}
}
