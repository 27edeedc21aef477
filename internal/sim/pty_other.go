//go:build !linux

package sim

import (
	"fmt"
	"os"
)

// openPTY is not implemented here: ServeRTU needs the Linux pty ioctls.
// TODO: BSD and macOS have posix_openpt and ptsname through other ioctls;
// esep-sim runs on Linux only so far.
func openPTY() (*os.File, string, error) {
	return nil, "", fmt.Errorf("cannot open a pty: %w", ErrNoPTY)
}

// holder is never used where openPTY fails.
type holder struct{}

func newHolder(string) *holder { return &holder{} }

func (*holder) hold() error { return ErrNoPTY }

func (*holder) release() {}
