package spool

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/esep-kz/esep/internal/logging"
)

// fillPercent packs the pages of both buckets: their keys, sequence
// numbers, are appended in increasing order, for which bbolt's default
// of half-full pages after a split only wastes space.
const fillPercent = 0.9

// appendReq is one Append waiting for its commit.
type appendReq struct {
	ctx   context.Context
	recs  []Record // Seq set by the commit; Data is not read there
	vals  [][]byte // the encoded records, made by the caller's goroutine
	bytes int64

	// Set by the committer before done is closed.
	seqs []uint64
	p    Pressure
	err  error
	done chan struct{}
}

// Append stores recs and returns the sequence numbers given to them, in
// order. It returns once they are committed and synced to disk, having
// made room for them as the package doc says; OnPressure is then called
// if anything was removed. On an error none of recs is stored, except
// when ctx ends while the commit is under way: then they may be, and are
// delivered as any other.
func (s *Spool) Append(ctx context.Context, recs ...Record) ([]uint64, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	req, err := s.newAppend(ctx, recs)
	if err != nil {
		return nil, err
	}
	if err := s.enqueue(req, nil); err != nil {
		return nil, fmt.Errorf("cannot append to spool %q: %w", s.path, err)
	}

	select {
	case <-req.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("cannot append to spool %q: %w", s.path, ctx.Err())
	}
	if req.err != nil {
		return nil, fmt.Errorf("cannot append to spool %q: %w", s.path, req.err)
	}
	if req.p.any() && s.o.OnPressure != nil {
		s.o.OnPressure(req.p)
	}
	return req.seqs, nil
}

// newAppend checks and encodes recs.
func (s *Spool) newAppend(ctx context.Context, recs []Record) (*appendReq, error) {
	req := &appendReq{ctx: ctx, recs: append([]Record(nil), recs...),
		vals: make([][]byte, len(recs)), done: make(chan struct{})}
	for i := range req.recs {
		r := &req.recs[i]
		if err := checkRecord(r); err != nil {
			return nil, fmt.Errorf("cannot append record %d of %d to spool %q: %w",
				i+1, len(recs), s.path, err)
		}
		req.vals[i] = encodeRecord(r, 0)
		req.bytes += recordSize(r)
	}
	if req.bytes > s.o.MaxBytes {
		return nil, fmt.Errorf("cannot append %d records of %d bytes to spool %q of %d: %w",
			len(recs), req.bytes, s.path, s.o.MaxBytes, ErrTooLarge)
	}
	return req, nil
}

// Ack takes the records of seqs, which the broker acknowledged, out of
// the pending set at once, and has the next commit move them to history;
// it does not wait for that commit (see the package doc). Seqs that are
// not pending, acknowledged twice or removed under pressure, are
// ignored.
func (s *Spool) Ack(seqs ...uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	s.setAcking(seqs, true)
	if err := s.enqueue(nil, seqs); err != nil {
		s.setAcking(seqs, false)
		return fmt.Errorf("cannot acknowledge %d records in spool %q: %w", len(seqs), s.path, err)
	}
	return nil
}

// setAcking marks seqs as acknowledged but not committed, or unmarks them.
func (s *Spool) setAcking(seqs []uint64, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seq := range seqs {
		if on {
			s.acking[seq] = true
		} else {
			delete(s.acking, seq)
		}
	}
}

// enqueue hands an Append or acknowledgements to the committer.
func (s *Spool) enqueue(req *appendReq, acks []uint64) error {
	s.qmu.Lock()
	if s.closed {
		s.qmu.Unlock()
		return ErrClosed
	}
	if req != nil {
		s.queue = append(s.queue, req)
	}
	s.acks = append(s.acks, acks...)
	s.qmu.Unlock()

	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is already waiting
	}
	return nil
}

// run is the committer: it commits, in one transaction, all the work
// handed over since its last commit began. Work arriving during a commit
// waits for the next, which is what groups concurrent Appends. It stops
// on Close, after committing what was handed over before.
func (s *Spool) run() {
	defer close(s.stopped)
	for {
		select {
		case <-s.wake:
			s.flush()
		case <-s.quit:
			s.flush()
			return
		}
	}
}

// flush commits the queued work and answers the Appends.
func (s *Spool) flush() {
	s.qmu.Lock()
	queued, acks := s.queue, s.acks
	s.queue, s.acks = nil, nil
	s.qmu.Unlock()

	var reqs []*appendReq
	for _, req := range queued {
		if err := req.ctx.Err(); err != nil {
			req.err = err
			close(req.done)
			continue
		}
		reqs = append(reqs, req)
	}
	if len(reqs) == 0 && len(acks) == 0 {
		return
	}

	err := s.commit(reqs, acks)
	s.setAcking(acks, false)
	for _, req := range reqs {
		req.err = err
		close(req.done)
	}
	if err == nil && len(reqs) > 0 {
		select {
		case s.notify <- struct{}{}:
		default: // the reader has a wake-up it did not take yet
		}
	}
}

// commit runs one transaction; on failure the index, changed along the
// way, is reloaded from the file the transaction left untouched.
func (s *Spool) commit(reqs []*appendReq, acks []uint64) error {
	if s.fail != nil {
		return s.fail
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		w := s.begin(tx)
		if err := w.ack(acks); err != nil {
			return err
		}
		for _, req := range reqs {
			if err := w.append(req); err != nil {
				return err
			}
		}
		if err := w.pruneHistory(); err != nil {
			return err
		}
		return w.saveMeta()
	})
	if err == nil {
		s.x.compact()
		s.publish()
		return nil
	}

	if len(acks) > 0 {
		s.log.Error().Err(err).Str(logging.Path, s.path).Int(logging.Count, len(acks)).
			Msg("cannot commit acknowledgements: the records stay pending and are sent again")
	}
	if lerr := s.load(); lerr != nil {
		s.fail = fmt.Errorf("spool unusable after a failed commit (%v): %w", err, lerr)
		s.log.Error().Err(lerr).Str(logging.Path, s.path).
			Msg("cannot reload the spool after a failed commit: it refuses all writes")
	}
	s.publish()
	return err
}

// publish copies the index's figures to the stats.
func (s *Spool) publish() {
	x := s.x
	st := Stats{Pending: x.count, PendingBytes: x.bytes, OldestPending: x.oldest(),
		History: x.historyLen(), Bytes: x.total(), NextSeq: x.nextSeq,
		Thinned: x.thinned, Dropped: x.dropped, HistoryDropped: x.histDropped}
	s.mu.Lock()
	s.stats = st
	s.mu.Unlock()
}
