package sim

import "time"

// pacingStep is how much wire time one paced write covers at least. Each
// write waits until its last character would have ended on the wire;
// steps much below a millisecond would be below what Go's timers keep.
// At 9600 baud a step is one character, at 115200 about ten.
const pacingStep = time.Millisecond

// answer handles one frame: the bus timing checks, the CRC, the unit,
// and the paced reply.
func (s *RTUServer) answer(f frame) {
	if !s.checkGap(f) {
		return
	}
	// Serial Line V1.02 §2.5.1.2: a frame with a bad CRC is discarded,
	// and a slave never answers it.
	if len(f.data) < 4 || !crcOK(f.data) {
		s.stats.add(func(st *Stats) { st.BadFrames++ })
		return
	}

	unit, req := f.data[0], f.data[1:len(f.data)-2]
	r, ok := s.units.handle(unit, req)
	switch {
	case !ok:
		// A slave stays silent to frames for other addresses (§2.2).
		// TODO: broadcast writes (unit 0, §2.1) are dropped the same
		// way; no meter profile needs them yet.
		s.stats.add(func(st *Stats) { st.NoDevice++ })
	case r.pdu == nil:
		s.stats.reply(unit, r, s.line.chars(len(f.data)))
	default:
		s.reply(f, unit, r)
	}
}

// checkGap counts a frame that came too soon after the last reply. It
// reports false for one that began before that reply ended: on the half
// duplex bus the two collide, and the slave does not answer.
func (s *RTUServer) checkGap(f frame) bool {
	switch {
	case s.lastEnd.IsZero():
	case f.first.Before(s.lastEnd):
		s.stats.add(func(st *Stats) { st.Collisions++ })
		return false
	case f.first.Before(s.lastEnd.Add(s.line.silence())):
		// §2.5.1.1: frames are separated by at least t3.5 of silence.
		s.stats.add(func(st *Stats) { st.SilentIntervalViolations++ })
	}
	return true
}

// reply sends the answer r of unit to the request frame f. The request
// came through the pty at once, so the reply starts when the request
// would have ended on the wire, plus turnaround and any extra latency.
// It is counted before it is sent: a client that has read it sees it in
// the Stats.
func (s *RTUServer) reply(f frame, unit byte, r reply) {
	out := appendCRC(append([]byte{unit}, r.pdu...))
	if r.corrupt {
		out[len(out)-1] ^= 0xFF // the CRC's high byte (§2.5.1.2)
	}
	var foreign []byte
	if r.foreign != 0 {
		foreign = appendCRC(append([]byte{r.foreign}, r.pdu...))
	}
	chars := len(f.data) + len(foreign) + len(out)
	s.stats.reply(unit, r, s.line.chars(chars)+s.cfg.Turnaround)

	reqEnd := f.first.Add(s.line.chars(len(f.data)))
	start := later(reqEnd, time.Now()).Add(s.cfg.Turnaround + r.latency)
	if foreign != nil {
		// Another slave answers first; the addressed one waits for the
		// bus to be silent for t3.5 after it.
		start = s.transmit(foreign, start, nil, 0).Add(s.line.silence())
	}
	s.lastEnd = s.transmit(out, start, r.chunks, r.gap)
}

// transmit sends frame from start on, split into chunks with gap between
// them, and returns when its last character ends on the paced wire.
func (s *RTUServer) transmit(frame []byte, start time.Time, chunks []int,
	gap time.Duration) time.Time {
	at := start
	for i, piece := range split(frame, chunks) {
		if i > 0 {
			at = at.Add(gap)
		}
		at = s.pace(piece, at)
	}
	return at
}

// pace writes b as the line would deliver it from start on: no byte is
// written before its character's stop bit would have ended. It returns
// when the last character ended: its paced time, or, on a loaded machine,
// the moment just before its late write, since the client cannot answer
// before it has the byte. The clock is read before the write, not after:
// a goroutine delayed after the write would otherwise blame the client
// for a silent-interval violation it did not commit. Write errors are
// dropped, as a bus carries a reply whether or not anyone listens.
func (s *RTUServer) pace(b []byte, start time.Time) time.Time {
	end := start.Add(s.line.chars(len(b)))
	step := max(1, int(pacingStep/s.line.chars(1)))
	for i := 0; i < len(b); i += step {
		j := min(i+step, len(b))
		if !sleepUntil(s.done, start.Add(s.line.chars(j))) {
			break
		}
		if j == len(b) {
			end = later(end, time.Now())
		}
		_, _ = s.pty.Write(b[i:j])
	}
	return end
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
