package commission

import (
	"fmt"

	"github.com/esep-kz/esep/internal/cli"
)

// usageError is a wrong invocation, such as a flag value outside what
// the flag allows. It matches cli.ErrUsage, so the frame prints the
// command's flags and exits with status 2, and it reads as its message
// alone, which names the flag and the value given.
type usageError struct{ err error }

// usagef returns a usageError; format may wrap a cause with %w.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// Error returns the message, without the words "usage error".
func (e usageError) Error() string { return e.err.Error() }

// Unwrap returns cli.ErrUsage and the cause, for errors.Is and errors.As.
func (e usageError) Unwrap() []error { return []error{cli.ErrUsage, e.err} }

// noArgs refuses positional arguments: every input is a flag, and a
// stray word is most often a flag whose dash was lost.
func noArgs(args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q: every input is a flag", args[0])
	}
	return nil
}
