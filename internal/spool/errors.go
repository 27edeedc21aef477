package spool

import "errors"

// ErrClosed is returned by calls on a spool after Close.
var ErrClosed = errors.New("spool is closed")

// ErrTooLarge is returned by Append when its records alone are larger
// than Options.MaxBytes: no amount of room made would hold them. It is
// permanent for those records.
var ErrTooLarge = errors.New("records are larger than the spool's cap")

// ErrBadRecord is returned by Append for a record the spool cannot keep:
// an unknown kind, no time, a time outside 1678–2262, or a meter ID
// longer than 65535 bytes. It is permanent for that record.
var ErrBadRecord = errors.New("record cannot be spooled")

// ErrCorrupt is wrapped by Open when the file holds a record or a meta
// value that does not decode. The file is left as it is: it may hold
// unsent readings that a person can still recover.
var ErrCorrupt = errors.New("spool file is corrupt")
