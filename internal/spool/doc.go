// Package spool is the agent's durable on-disk queue of readings and
// events, kept in one bbolt file (go.etcd.io/bbolt). The agent appends
// every record before it is published and acknowledges it after the
// broker's PUBACK; a record leaves the pending set only then, so a crash,
// a restart or a long uplink outage loses nothing that was appended.
//
// # Sequence numbers
//
// Append numbers records 1, 2, 3, … The next number is kept in the file
// in the same transaction as the records, so a number is never given out
// twice, not even after every record was acknowledged and pruned and the
// process restarted.
//
// # Fsync policy
//
// Append returns only after the transaction holding its records is
// committed and synced (bbolt writes the pages, fdatasync, writes the
// meta page, fdatasync): a returned sequence number survives SIGKILL and
// power loss. Appends from several goroutines that arrive while a commit
// is under way share the next commit, so the cost of a sync is spread
// over all of them (group commit); a lone Append does not wait for
// company.
//
// Ack does not wait for a sync: it takes the records out of the pending
// set at once and hands the move to history to the next commit, which
// starts at once when none is running. A crash in between leaves those
// records pending, so they are published again; the centre deduplicates
// by (meter, quantity, time), so a lost acknowledgement costs a
// duplicate, never a reading. This keeps the broker's PUBACK callback
// from waiting on the disk.
//
// The file is never written with bbolt's NoSync: with it a power cut
// could leave a meta page that points at pages never written. The
// freelist is not synced (bbolt's NoFreelistSync), which saves a page
// write per commit on flash; bbolt rebuilds it by walking the file on
// Open instead.
//
// # Capacity
//
// Options.MaxBytes caps the logical bytes of the records kept, pending
// and history together. A record's logical size is its encoded size
// (recordSize): its Meter, its Data and 32 bytes of key and header. When
// an Append would pass the cap, room is made in this order, oldest record
// time first, each step only as far as needed:
//
//  1. acknowledged history is dropped, oldest acknowledgement first;
//  2. unsent readings are thinned to one per meter per local hour, the
//     first of each hour kept;
//  3. unsent readings are thinned to one per meter per local day, the
//     first at or after local midnight kept: the day's closing index;
//  4. unsent records are dropped outright: first events and any reading
//     that is not a day's closing one, then the closing readings.
//
// Events are never thinned. Every removal is counted (Stats, Pressure)
// and the counts are kept in the file, across restarts. The records of
// the Append being made are not candidates: they are the newest.
//
// The bbolt file is larger than the logical bytes and never shrinks:
// bbolt reuses freed pages but does not give them back to the file
// system. Each record costs another 16 bytes of leaf element, pages are
// half to fully packed after deletions, and past 16 MiB the file grows
// in 16 MiB steps (below that it doubles). Measured with 120-byte
// readings held at the cap, delivering or in an outage, the file is 2.0
// times MaxBytes at 4 MiB and 1.6 times at 40 MiB (TestFileSizeAtCap
// checks under 2.5). Give the spool about three times MaxBytes of disk.
//
// # History
//
// Acknowledged records are kept for Options.History after their
// acknowledgement, within the same cap, so that the centre can ask for a
// range again (Lookup). Expired history is pruned by every commit and by
// Open, from the oldest acknowledgement on, at a cost proportional to
// what is pruned.
package spool
