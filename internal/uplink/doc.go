// Package uplink is the agent's MQTT link to the centre: it publishes
// what the spool holds and tells the spool what the broker has taken.
//
// # Topics
//
// Under a prefix P (default "esep") and the agent ID A, with the bodies
// of payload schema v1 (internal/wire):
//
//	P/v1/A/readings   batches of readings, QoS 1
//	P/v1/A/events     batches of events, QoS 1
//	P/v1/A/status     retained {"v":1,"state":"online",...} on every connect;
//	                  the last will, retained, says "offline"; so does the
//	                  agent itself before a clean disconnect
//	P/v1/A/inventory  retained, the caller's bytes, on every connect
//	P/v1/A/cmd        subscribed: resend requests from the centre
//	P/v1/A/resend     answers to resend requests (see resend.go)
//
// # Delivery
//
// Every record is published at least once. A record is acknowledged to
// the source, which then stops offering it, only after the PUBACK of
// the message that carried it (MQTT 3.1.1 section 4.3.2): a record the
// broker never confirmed stays pending in the spool, on disk.
//
// A record that cannot be put on the wire (wire reports it as a
// *wire.ItemError) is set aside rather than dropped or retried for ever:
// it stays pending in the spool, the batch goes without it, and it is
// counted in Status().SetAside and logged as an error.
//
// Each session starts its cursor at 0 and asks the source for what is
// pending from there, so after a reconnect, or a restart of the agent,
// everything not acknowledged goes again, oldest first. Records whose
// message reached the broker but whose PUBACK was lost with the link go
// twice; so do records that a resend request asks for. Duplicates are
// therefore expected: the centre deduplicates by agent and sequence
// number, and the readings themselves by meter, quantity and time.
//
// The client ID is the agent ID with a persistent session (clean
// session false), so the broker keeps the cmd subscription and queues
// requests while the agent is away. paho's own store and reconnection
// are not used for the agent's records: the spool is the store, and a
// new paho client serves each session (see connect).
//
// # Flow control
//
// At most Config.Window messages await their PUBACK at once; a batch
// holds at most Config.BatchItems records and about Config.BatchBytes of
// data, and records of one kind (a batch goes to one topic). A message
// not acknowledged within Config.AckTimeout ends the session, as a dead
// link does, and the next session sends it again.
//
// # Connection trouble
//
// Run never gives up: a refused password, a certificate from the wrong
// CA, an expired client certificate or an unreachable broker are each
// reported as an error naming the broker and the cause, kept in
// Status().LastError and logged at most once per Options.LogEvery per
// cause; then Run waits and tries again. The waits grow from
// Config.BackoffMin (default 1s) to Config.BackoffMax (default 2m),
// each drawn at random from the upper half of its step (see backoff).
// Run never blocks the poller: the poller appends to the spool, which
// is on disk, and the uplink reads it at its own pace.
package uplink
