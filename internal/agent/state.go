package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/esep-kz/esep/internal/logging"
	"github.com/esep-kz/esep/internal/reading"
)

// stateFile is the name of the state file in the state directory.
const stateFile = "state.json"

// stateVersion is the format of the state file; a file of another
// version is set aside, not misread.
const stateVersion = 1

// stateFlushEvery spaces the writes that only carry new indexes. The
// state lives on the flash of a small box: writing it after every poll
// of a hundred meters would wear it for nothing, as the indexes are only
// needed to describe a replacement, and a replacement is written at once.
const stateFlushEvery = 5 * time.Minute

// MeterRecord is what the agent remembers of one metering point across
// restarts, so that a meter swapped while the agent was down is still
// seen as a replacement.
type MeterRecord struct {
	Serial, Model, Firmware string
	// Values are the last number read of each cumulative quantity, and
	// Time when the last poll that read any of them completed; a value a
	// later poll could not read keeps its older number.
	Values []reading.Value
	Time   time.Time
}

// State is the agent's memory of its meters, kept in one small JSON file
// that is replaced whole, atomically, on every write. It is safe for
// concurrent use.
type State struct {
	path string
	log  zerolog.Logger

	mu     sync.Mutex
	meters map[string]MeterRecord
	dirty  bool      // changed since the last write
	saved  time.Time // of the last write
}

// stateJSON is the file's layout.
type stateJSON struct {
	Version int                   `json:"version"`
	Meters  map[string]recordJSON `json:"meters"`
}

type recordJSON struct {
	Serial   string      `json:"serial,omitempty"`
	Model    string      `json:"model,omitempty"`
	Firmware string      `json:"firmware,omitempty"`
	Values   []jsonValue `json:"values,omitempty"`
	Time     time.Time   `json:"time,omitzero"`
}

// OpenState reads the state file in dir, making dir when it is missing.
// A file that cannot be read, or not read as state, is moved aside,
// logged, and replaced by an empty state: the agent must keep metering, and loses
// only the detection of a replacement made while it was down.
func OpenState(dir string, log zerolog.Logger) (*State, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("cannot make state directory %q: %w", dir, err)
	}
	s := &State{path: filepath.Join(dir, stateFile), meters: map[string]MeterRecord{},
		log: log.With().Str(logging.Component, "state").Logger()}

	s.removeTemps(dir)

	data, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.log.Info().Str(logging.Path, s.path).Msg("no state file: starting with none")
		return s, nil
	case err != nil:
		// A directory in its place, a symlink loop or failing flash:
		// the same as a file that does not decode.
		s.setAside(err)
		return s, nil
	}

	if err := s.decode(data); err != nil {
		s.setAside(err)
		s.meters = map[string]MeterRecord{}
		return s, nil
	}
	s.log.Info().Str(logging.Path, s.path).Int(logging.Count, len(s.meters)).
		Msg("state loaded")
	return s, nil
}

// renameFile is os.Rename; tests make it fail as a read-only disk does.
var renameFile = os.Rename

// setAside moves an unreadable state file aside for a person to look
// at. When that fails too, on a read-only disk say, the agent still
// starts: the file stays, and is overwritten by the first good write.
func (s *State) setAside(cause error) {
	aside := s.path + ".bad-" + time.Now().UTC().Format("20060102T150405Z")
	if err := renameFile(s.path, aside); err != nil {
		s.log.Error().Err(cause).Str(logging.Path, s.path).Str(logging.Reason, err.Error()).
			Msg("state file unreadable and cannot be set aside: starting with none")
		return
	}
	s.log.Error().Err(cause).Str(logging.Path, aside).
		Msg("state file unreadable: set aside, starting with none")
}

// removeTemps removes the temporary files of writes that a crash or a
// power cut interrupted (see writeFileAtomic): they hold nothing the
// state file does not, and would pile up on the box's flash.
func (s *State) removeTemps(dir string) {
	temps, _ := filepath.Glob(filepath.Join(dir, "."+stateFile+".*.tmp"))
	for _, t := range temps {
		if err := os.Remove(t); err != nil {
			s.log.Warn().Err(err).Str(logging.Path, t).Msg("cannot remove a stale temporary file")
		}
	}
	if len(temps) > 0 {
		s.log.Info().Int(logging.Count, len(temps)).
			Msg("removed temporary files of interrupted state writes")
	}
}

func (s *State) decode(data []byte) error {
	var f stateJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	if f.Version != stateVersion {
		return fmt.Errorf("state file version %d, want %d", f.Version, stateVersion)
	}
	for id, r := range f.Meters {
		vs, err := fromJSONValues(r.Values)
		if err != nil {
			return fmt.Errorf("meter %q: %w", id, err)
		}
		s.meters[id] = MeterRecord{Serial: r.Serial, Model: r.Model, Firmware: r.Firmware,
			Values: vs, Time: r.Time}
	}
	return nil
}

// Path returns the state file's path.
func (s *State) Path() string { return s.path }

// Meter returns the record of the meter with the given ID.
func (s *State) Meter(id string) (MeterRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.meters[id]
	r.Values = slices.Clone(r.Values)
	return r, ok
}

// Put replaces the record of a meter. With now it writes the file before
// it returns, as it must for a change of serial; otherwise the file is
// written once stateFlushEvery has passed since the last write, by this
// call or a later one, or by Flush.
func (s *State) Put(id string, r MeterRecord, now bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Values = slices.Clone(r.Values)
	s.meters[id] = r
	s.dirty = true
	if !now && time.Since(s.saved) < stateFlushEvery {
		return nil
	}
	return s.save()
}

// Flush writes the file if anything changed since the last write.
func (s *State) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dirty {
		return nil
	}
	return s.save()
}

// save writes the file under s.mu.
func (s *State) save() error {
	f := stateJSON{Version: stateVersion, Meters: map[string]recordJSON{}}
	for _, id := range slices.Sorted(maps.Keys(s.meters)) {
		r := s.meters[id]
		f.Meters[id] = recordJSON{Serial: r.Serial, Model: r.Model, Firmware: r.Firmware,
			Values: toJSONValues(r.Values), Time: r.Time.UTC()}
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode state: %w", err)
	}
	// A failed write counts as one for the spacing too, so that a full
	// or read-only disk costs one attempt, and one log line, a period.
	s.saved = time.Now()
	if err := writeFileAtomic(s.path, append(data, '\n')); err != nil {
		return fmt.Errorf("cannot write state file: %w", err)
	}
	s.dirty = false
	return nil
}

// writeFileAtomic replaces the file at path with data so that a crash or
// a power cut leaves either the old file or the new one, whole: the data
// goes to a temporary file in the same directory, is synced, and is
// renamed over path (rename is atomic within a file system, POSIX), and
// the directory is synced so that the rename itself survives.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed

	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %q: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	return nil
}
