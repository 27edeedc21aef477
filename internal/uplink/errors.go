package uplink

import "errors"

// Causes of a failed connection or session. Status().LastError wraps one
// of them where the cause is known, so that a caller can tell a fault an
// engineer must fix (credentials, certificates) from a network outage.
var (
	// ErrNotAuthorized: the broker refused the user name and password, or
	// the user may not connect (CONNACK return code 4 or 5, MQTT 3.1.1
	// section 3.2.2.3). Retrying will not help until the credentials or
	// the broker's password file change.
	ErrNotAuthorized = errors.New("not authorized")
	// ErrUnknownAuthority: the broker's certificate is not signed by the
	// CA that the configuration trusts.
	ErrUnknownAuthority = errors.New("certificate signed by unknown authority")
	// ErrCertExpired: the agent's client certificate is outside its
	// validity period, so the broker would refuse it; it is not sent.
	ErrCertExpired = errors.New("client certificate not valid now")
	// ErrConnectionLost: an established connection broke (keep-alive
	// timeout, reset, broker restart).
	ErrConnectionLost = errors.New("connection lost")
	// ErrAckTimeout: the broker did not acknowledge a message in time;
	// the session is ended and what was in flight is sent again.
	ErrAckTimeout = errors.New("no acknowledgement from the broker in time")
	// ErrRunning: Run was called while the uplink was already running.
	ErrRunning = errors.New("uplink is already running")
)
