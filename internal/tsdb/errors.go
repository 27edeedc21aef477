package tsdb

import "errors"

// ErrRejected marks a batch that can never be written as it is: the
// database refused it with a 4xx answer, or a reading in it cannot be
// put into line protocol. Retrying cannot help, so the caller
// quarantines the batch instead of waiting for it.
var ErrRejected = errors.New("rejected by the time-series database")
