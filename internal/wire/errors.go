package wire

import (
	"errors"
	"fmt"
)

// ErrInvalid marks a payload that breaks schema v1: a missing or unknown
// field, a malformed number or time, a word outside the vocabulary. The
// centre refuses the message; sending it again will not help.
var ErrInvalid = errors.New("invalid payload")

// ErrVersion marks a payload of another schema version than this package
// speaks; a newer agent talks to an older centre, or the reverse.
var ErrVersion = errors.New("unsupported payload version")

// ErrTooLarge marks a message body that decompresses to more than
// MaxDecoded bytes; it is refused before it is parsed.
var ErrTooLarge = errors.New("payload too large")

// FieldError says which field of a payload is wrong, by its JSON path
// ("items[3].values[2].number"), and why. It matches ErrInvalid or
// ErrVersion with errors.Is, so callers can branch without parsing text.
type FieldError struct {
	Field string // JSON path of the field; "" for the document itself
	Msg   string // what is wrong, for people
	kind  error  // ErrInvalid or ErrVersion
}

// Error implements error.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// Is reports whether target is the sentinel the error belongs to.
func (e *FieldError) Is(target error) bool { return target == e.kind }

// invalid returns a FieldError of kind ErrInvalid.
func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...), kind: ErrInvalid}
}

// within prefixes the path of a FieldError found inside a nested part,
// so that an error deep in a value names the item it belongs to. Other
// errors (a JSON syntax error) become a FieldError at path.
func within(path string, err error) error {
	if err == nil {
		return nil
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		return &FieldError{Field: path, Msg: err.Error(), kind: ErrInvalid}
	}
	out := *fe
	switch {
	case path == "":
	case fe.Field == "":
		out.Field = path
	case fe.Field[0] == '[':
		out.Field = path + fe.Field
	default:
		out.Field = path + "." + fe.Field
	}
	return &out
}

// ItemError says which item of a batch could not be put on the wire, so
// that the uplink can set that one record aside instead of retrying the
// whole batch for ever.
type ItemError struct {
	Seq uint64 // the agent's sequence number of the item
	Err error
}

// Error implements error.
func (e *ItemError) Error() string {
	return fmt.Sprintf("item with seq %d: %v", e.Seq, e.Err)
}

// Unwrap returns the cause.
func (e *ItemError) Unwrap() error { return e.Err }
