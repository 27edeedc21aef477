package spool

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Pending returns the unacknowledged records with Seq above after, in
// ascending order: at most max of them (if max > 0) and, past the first,
// no more than maxBytes of Data in all (if maxBytes > 0). It returns at
// least one record if there is any, however large, so that a caller
// cannot stall on one.
func (s *Spool) Pending(after uint64, max, maxBytes int) ([]Record, error) {
	if after == math.MaxUint64 {
		return nil, nil
	}
	var out []Record
	err := s.db.View(func(tx *bolt.Tx) error {
		s.mu.RLock()
		defer s.mu.RUnlock()

		size := 0
		c := tx.Bucket(bucketPending).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil; k, v = c.Next() {
			seq := binary.BigEndian.Uint64(k)
			if s.acking[seq] {
				continue
			}
			if max > 0 && len(out) == max {
				return nil
			}
			r, _, err := decodeRecord(seq, v)
			if err != nil {
				return err
			}
			if maxBytes > 0 && len(out) > 0 && size+len(r.Data) > maxBytes {
				return nil
			}
			size += len(r.Data)
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read pending records of spool %q: %w",
			s.path, errClosed(err))
	}
	return out, nil
}

// Lookup answers a resend request for [from, to]: the records still held,
// pending or history, in ascending order, and the sub-ranges no longer
// held, removed under pressure or expired from history, so that the
// centre knows those readings are gone rather than late. Seqs not given
// out yet are neither held nor gone, and leave no range.
func (s *Spool) Lookup(from, to uint64) (held []Record, gone []Range, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		next, err := decodeUint(metaNextSeq, tx.Bucket(bucketMeta).Get([]byte(metaNextSeq)))
		if err != nil {
			next = 1 // nothing was ever committed
		}
		from, to = max(from, 1), min(to, next-1)
		if from > to {
			return nil
		}
		for _, name := range [][]byte{bucketPending, bucketHistory} {
			if held, err = scanRange(tx.Bucket(name), from, to, held); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("cannot look up records %d–%d in spool %q: %w",
			from, to, s.path, errClosed(err))
	}
	if from > to {
		return nil, nil, nil
	}

	slices.SortFunc(held, func(a, b Record) int { return cmp.Compare(a.Seq, b.Seq) })
	return held, gaps(held, from, to), nil
}

// scanRange appends the records of b in [from, to] to out.
func scanRange(b *bolt.Bucket, from, to uint64, out []Record) ([]Record, error) {
	c := b.Cursor()
	for k, v := c.Seek(seqKey(from)); k != nil; k, v = c.Next() {
		seq := binary.BigEndian.Uint64(k)
		if seq > to {
			break
		}
		r, _, err := decodeRecord(seq, v)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// gaps returns the sub-ranges of [from, to] that held, ascending, misses.
func gaps(held []Record, from, to uint64) []Range {
	var gone []Range
	want := from
	for _, r := range held {
		if r.Seq > want {
			gone = append(gone, Range{From: want, To: r.Seq - 1})
		}
		want = r.Seq + 1
	}
	if want <= to {
		gone = append(gone, Range{From: want, To: to})
	}
	return gone
}
