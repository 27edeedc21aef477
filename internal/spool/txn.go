package spool

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// txn is one commit's work: the transaction's buckets and the index.
type txn struct {
	s                      *Spool
	x                      *index
	pending, history, meta *bolt.Bucket
	now                    int64 // acknowledgement time, Unix nanoseconds
}

func (s *Spool) begin(tx *bolt.Tx) *txn {
	w := &txn{s: s, x: s.x, pending: tx.Bucket(bucketPending),
		history: tx.Bucket(bucketHistory), meta: tx.Bucket(bucketMeta),
		now: s.o.Now().UnixNano()}
	w.pending.FillPercent = fillPercent
	w.history.FillPercent = fillPercent
	return w
}

// append makes room for req and stores its records under new seqs.
func (w *txn) append(req *appendReq) error {
	req.p = Pressure{}
	if need := w.x.total() + req.bytes - w.s.o.MaxBytes; need > 0 {
		if err := w.makeRoom(need, &req.p); err != nil {
			return err
		}
	}

	req.seqs = make([]uint64, len(req.recs))
	for i := range req.recs {
		r := &req.recs[i]
		r.Seq = w.x.nextSeq
		if err := w.pending.Put(seqKey(r.Seq), req.vals[i]); err != nil {
			return fmt.Errorf("cannot store record %d: %w", r.Seq, err)
		}
		w.x.nextSeq++
		w.x.add(r)
		req.seqs[i] = r.Seq
	}
	req.p.Oldest = w.x.oldest()
	return nil
}

// ack moves the pending records of seqs to history.
func (w *txn) ack(seqs []uint64) error {
	for _, seq := range seqs {
		k := seqKey(seq)
		v := w.pending.Get(k)
		if v == nil {
			continue // acknowledged before, or removed under pressure
		}
		r, _, err := decodeRecord(seq, v)
		if err != nil {
			return err
		}

		if e := w.x.find(r.Time.UnixNano(), seq); e != nil {
			w.x.kill(e)
		}
		if err := w.pending.Delete(k); err != nil {
			return fmt.Errorf("cannot delete record %d: %w", seq, err)
		}
		if err := w.history.Put(k, encodeRecord(&r, w.now)); err != nil {
			return fmt.Errorf("cannot store record %d: %w", seq, err)
		}
		w.x.addHistory(histEntry{ack: w.now, seq: seq, size: uint32(recordSize(&r))})
	}
	return nil
}

// pruneHistory removes the acknowledged records older than
// Options.History, oldest first; it reads no more of the index than
// it removes, and one entry.
func (w *txn) pruneHistory() error {
	limit := w.now - int64(w.s.o.History)
	for {
		h, ok := w.x.oldestHistory()
		if !ok || h.ack > limit {
			return nil
		}
		if err := w.history.Delete(seqKey(h.seq)); err != nil {
			return fmt.Errorf("cannot delete record %d: %w", h.seq, err)
		}
		w.x.popHistory()
	}
}

// saveMeta writes the next seq and the counters.
func (w *txn) saveMeta() error {
	for name, v := range map[string]uint64{metaNextSeq: w.x.nextSeq, metaThinned: w.x.thinned,
		metaDropped: w.x.dropped, metaHistDropped: w.x.histDropped} {
		if err := w.meta.Put([]byte(name), seqKey(v)); err != nil {
			return fmt.Errorf("cannot store meta %q: %w", name, err)
		}
	}
	return nil
}
