package busbench

import "errors"

// errWrongValues is returned when a reply does not hold the registers the
// simulator serves: a master took another unit's reply, or misread one.
var errWrongValues = errors.New("registers differ from the simulator's")
