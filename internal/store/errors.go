package store

import "errors"

// ErrNotFound marks a call about a binding, gap or agent the store does
// not hold; the caller named the wrong one, and trying again will not help.
var ErrNotFound = errors.New("not found")

// ErrDSN marks a data source name that names neither PostgreSQL nor SQLite.
var ErrDSN = errors.New("unsupported data source name")
