package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
	// Thinning works on local hours and days, Asia/Almaty unless told
	// otherwise; the zone data travels in the binary for a bare edge box.
	_ "time/tzdata"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/esep-kz/esep/internal/logging"
)

// DefaultHistory is how long acknowledged records are kept when
// Options.History is 0: a week covers a resend request after a long
// weekend at the centre.
const DefaultHistory = 7 * 24 * time.Hour

// DefaultZone is the zone of the local hours and days of thinning when
// Options.Location is nil: Kazakhstan's single zone, UTC+5 since 2024.
const DefaultZone = "Asia/Almaty"

// lockWait bounds the wait for the file's lock at Open: at a restart
// the previous agent process may still be closing the spool.
const lockWait = 10 * time.Second

// Options configure a spool.
type Options struct {
	// MaxBytes caps the logical bytes of all records kept, pending and
	// history (see the package doc); required, > 0.
	MaxBytes int64
	// History is how long acknowledged records are kept for resend;
	// 0 means DefaultHistory.
	History time.Duration
	// Location gives the local days and hours of thinning; nil means
	// DefaultZone.
	Location *time.Location
	// Now is the clock of acknowledgement times; nil means time.Now.
	Now func() time.Time
	Log zerolog.Logger
	// OnPressure is called, outside any lock, after Append had to make
	// room, with what was removed then; the agent turns it into an event.
	OnPressure func(Pressure)
}

// Stats describe what the spool holds; they reflect the last commit.
type Stats struct {
	Pending       int       // unacknowledged records
	PendingBytes  int64     // their logical bytes
	OldestPending time.Time // time of the oldest unacknowledged record; zero if none
	History       int       // acknowledged records kept for resend
	Bytes         int64     // logical bytes of all records kept, against MaxBytes
	NextSeq       uint64    // the seq the next record will get
	// Cumulative since the file was made, across restarts.
	Thinned        uint64 // unsent readings removed by thinning
	Dropped        uint64 // unsent records removed outright
	HistoryDropped uint64 // acknowledged records removed before their time
}

// Spool is the durable queue of records awaiting delivery. It is safe
// for concurrent use.
type Spool struct {
	path    string
	db      *bolt.DB
	o       Options
	loc     *time.Location
	log     zerolog.Logger
	x       *index // owned by the committer goroutine once Open returns
	notify  chan struct{}
	wake    chan struct{}
	quit    chan struct{}
	stopped chan struct{}

	qmu    sync.Mutex // guards the queue of work for the committer
	queue  []*appendReq
	acks   []uint64
	closed bool

	fail error // set by the committer when the index cannot be reloaded

	mu     sync.RWMutex // guards acking and stats
	acking map[uint64]bool
	stats  Stats
}

// Bucket names.
var (
	bucketPending = []byte("pending")
	bucketHistory = []byte("history")
	bucketMeta    = []byte("meta")
)

// Keys of the meta bucket.
const (
	metaFormat      = "format"
	metaNextSeq     = "next_seq"
	metaThinned     = "thinned"
	metaDropped     = "dropped"
	metaHistDropped = "history_dropped"
)

// Open opens the spool file at path, making it and its directory when
// missing, and recovers what it holds. A file that is not a spool or
// does not decode is an error naming path, and the file is left as it
// is: it may hold unsent readings.
func Open(ctx context.Context, path string, o Options) (*Spool, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cannot open spool %q: %w", path, err)
	}
	s, err := newSpool(path, o)
	if err != nil {
		return nil, fmt.Errorf("cannot open spool %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("cannot make spool directory %q: %w", filepath.Dir(path), err)
	}
	if s.db, err = openBolt(path); err != nil {
		return nil, fmt.Errorf("cannot open spool %q: %w", path, err)
	}
	if err := s.recover(); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("cannot open spool %q: %w", path, err)
	}

	s.logRecovered()
	go s.run()
	return s, nil
}

func newSpool(path string, o Options) (*Spool, error) {
	if o.MaxBytes <= 0 {
		return nil, fmt.Errorf("MaxBytes %d: must be above 0", o.MaxBytes)
	}
	if o.History == 0 {
		o.History = DefaultHistory
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	loc := o.Location
	if loc == nil {
		var err error
		if loc, err = time.LoadLocation(DefaultZone); err != nil {
			return nil, fmt.Errorf("cannot load time zone %q: %w", DefaultZone, err)
		}
	}
	return &Spool{path: path, o: o, loc: loc, x: newIndex(),
		log:    o.Log.With().Str(logging.Component, "spool").Logger(),
		notify: make(chan struct{}, 1), wake: make(chan struct{}, 1),
		quit: make(chan struct{}), stopped: make(chan struct{}),
		acking: map[uint64]bool{}}, nil
}

// openBolt opens the file. bbolt panics on some damaged pages rather
// than returning an error; a panic here is reported as the file's.
func openBolt(path string) (db *bolt.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("bbolt: %v: %w", p, ErrCorrupt)
		}
	}()
	return bolt.Open(path, 0o600, &bolt.Options{Timeout: lockWait,
		NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
}

// recover makes the buckets of a new file, loads the index, prunes the
// expired history and publishes the first stats. It writes to an
// existing file only to prune, after every record decoded.
func (s *Spool) recover() error {
	var fresh bool
	if err := s.db.View(func(tx *bolt.Tx) error {
		fresh = tx.Bucket(bucketMeta) == nil
		return nil
	}); err != nil {
		return err
	}
	if fresh {
		if err := s.db.Update(initBuckets); err != nil {
			return err
		}
	}
	if err := s.load(); err != nil {
		return err
	}

	h, ok := s.x.oldestHistory()
	if ok && h.ack <= s.o.Now().Add(-s.o.History).UnixNano() {
		if err := s.db.Update(func(tx *bolt.Tx) error {
			return s.begin(tx).pruneHistory()
		}); err != nil {
			return fmt.Errorf("cannot prune history: %w", err)
		}
	}
	s.publish()
	return nil
}

func initBuckets(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketPending, bucketHistory} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("cannot make bucket %q: %w", name, err)
		}
	}
	meta, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return fmt.Errorf("cannot make bucket %q: %w", bucketMeta, err)
	}
	return meta.Put([]byte(metaFormat), seqKey(recordFormat))
}

// load reads the whole file into a new index; a panic of bbolt on a
// damaged page is reported as corruption.
func (s *Spool) load() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("bbolt: %v: %w", p, ErrCorrupt)
		}
	}()
	x := newIndex()
	err = s.db.View(func(tx *bolt.Tx) error {
		if err := loadMeta(tx.Bucket(bucketMeta), x); err != nil {
			return err
		}
		if err := loadPending(tx.Bucket(bucketPending), x); err != nil {
			return err
		}
		return loadHistory(tx.Bucket(bucketHistory), x)
	})
	if err == nil {
		s.x = x
	}
	return err
}

func loadMeta(b *bolt.Bucket, x *index) error {
	v, err := decodeUint(metaFormat, b.Get([]byte(metaFormat)))
	if err != nil {
		return err
	}
	if v != recordFormat {
		return fmt.Errorf("format %d, want %d: %w", v, recordFormat, ErrCorrupt)
	}
	for name, p := range map[string]*uint64{metaNextSeq: &x.nextSeq, metaThinned: &x.thinned,
		metaDropped: &x.dropped, metaHistDropped: &x.histDropped} {
		if v := b.Get([]byte(name)); v != nil {
			if *p, err = decodeUint(name, v); err != nil {
				return err
			}
		}
	}
	x.nextSeq = max(x.nextSeq, 1)
	return nil
}

func loadPending(b *bolt.Bucket, x *index) error {
	err := b.ForEach(func(k, v []byte) error {
		seq, err := keySeq(k)
		if err != nil {
			return err
		}
		r, _, err := decodeRecord(seq, v)
		if err != nil {
			return err
		}
		x.pend = append(x.pend, entry{time: r.Time.UnixNano(), seq: seq,
			size: uint32(recordSize(&r)), meter: x.meterID(r.Meter), kind: r.Kind})
		x.count++
		x.bytes += recordSize(&r)
		// A seq at or past next_seq cannot be written by this package;
		// should a damaged meta value claim it, no seq is given twice.
		x.nextSeq = max(x.nextSeq, seq+1)
		return nil
	})
	sortEntries(x.pend)
	return err
}

func loadHistory(b *bolt.Bucket, x *index) error {
	err := b.ForEach(func(k, v []byte) error {
		seq, err := keySeq(k)
		if err != nil {
			return err
		}
		r, ack, err := decodeRecord(seq, v)
		if err != nil {
			return err
		}
		x.addHistory(histEntry{ack: ack, seq: seq, size: uint32(recordSize(&r))})
		x.nextSeq = max(x.nextSeq, seq+1)
		return nil
	})
	x.sortHistory()
	return err
}

func keySeq(k []byte) (uint64, error) {
	if len(k) != keyLen {
		return 0, fmt.Errorf("key %x: %w", k, ErrCorrupt)
	}
	return decodeUint("key", k)
}

// logRecovered writes the one line that says what Open found.
func (s *Spool) logRecovered() {
	st := s.Stats()
	ev := s.log.Info().Str(logging.Path, s.path).Int(logging.Count, st.Pending).
		Int(logging.History, st.History).Uint64(logging.Seq, st.NextSeq)
	if !st.OldestPending.IsZero() {
		ev = ev.Time(logging.OldestPending, st.OldestPending)
	}
	ev.Msg("spool opened")
}

// Path returns the spool file's path.
func (s *Spool) Path() string { return s.path }

// Stats returns what the spool holds, as of the last commit.
func (s *Spool) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.stats
}

// Notify returns a channel that receives after each Append; it holds one
// wake-up at most, so a reader that was busy sees one for many Appends.
func (s *Spool) Notify() <-chan struct{} { return s.notify }

// Close commits the work already handed to the spool, Acks included,
// stops the committer and closes the file. Calls after it fail with
// ErrClosed; Close itself may be called again.
func (s *Spool) Close() error {
	s.qmu.Lock()
	if s.closed {
		s.qmu.Unlock()
		return nil
	}
	s.closed = true
	close(s.quit)
	s.qmu.Unlock()

	<-s.stopped
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("cannot close spool %q: %w", s.path, err)
	}
	return nil
}

// errClosed tells bbolt's error for a closed file apart, as ErrClosed.
func errClosed(err error) error {
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}
