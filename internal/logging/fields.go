package logging

// Field names shared by every esep binary. Log queries and alerts are
// written against them, so a name, once released, is not changed.
const (
	Agent         = "agent"           // agent ID, as configured at the agent
	Bus           = "bus"             // bus name from the agent configuration
	Slave         = "slave"           // Modbus unit ID
	Meter         = "meter"           // meter ID (metering point)
	Profile       = "profile"         // device profile name
	Serial        = "serial"          // serial number a meter reports of itself
	OldSerial     = "old_serial"      // serial of the meter that was replaced
	Transport     = "transport"       // bus transport: rtu, tcp, rtu-over-tcp
	Zone          = "zone"            // time zone name, such as Asia/Almaty
	Quantity      = "quantity"        // measured quantity, from the profile vocabulary
	Topic         = "topic"           // MQTT topic
	Seq           = "seq"             // agent sequence number of a reading
	Component     = "component"       // part of a binary: poller, spool, uplink, ...
	Reason        = "reason"          // why something was refused or failed
	Path          = "path"            // file or device path
	Addr          = "addr"            // network address
	Count         = "count"           // number of items in a batch or report
	Took          = "took"            // duration of an operation
	Suppressed    = "suppressed"      // similar lines left out since the last one
	Step          = "step"            // how far the wall clock moved when it was stepped
	Floor         = "floor"           // earliest time a set clock can read
	History       = "history"         // records kept after delivery, for resend requests
	OldestPending = "oldest_pending"  // time of the oldest record not yet delivered
	Thinned       = "thinned"         // unsent readings thinned to make room in the spool
	Dropped       = "dropped"         // unsent records dropped to make room in the spool
	HistoryDrop   = "history_dropped" // delivered records dropped early from the spool
)
