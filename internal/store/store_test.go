package store

import (
	"errors"
	"strings"
	"testing"
)

func TestMigrationsUpAndRerun(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		first := openStore(t, dsn)
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
		s := openStore(t, dsn) // the second Open finds nothing to apply

		var applied int
		err := s.db.QueryRowContext(t.Context(),
			`SELECT COUNT(*) FROM goose_db_version WHERE version_id = 1`).Scan(&applied)
		if err != nil || applied != 1 {
			t.Errorf("migration 1 recorded %d times (%v), want once", applied, err)
		}
		for _, table := range []string{"buildings", "agents", "meters", "bindings",
			"personal_accounts", "account_meters", "latest_values", "readings_seen",
			"daily_counts", "quarantine", "seq_ranges", "seq_gaps"} {
			var n int
			if err := s.db.QueryRowContext(t.Context(),
				"SELECT COUNT(*) FROM "+table).Scan(&n); err != nil || n != 0 {
				t.Errorf("table %s: got %d rows (%v), want an empty table", table, n, err)
			}
		}
	})
}

func TestOpenRefusesOtherDatabases(t *testing.T) {
	for _, dsn := range []string{"mysql://root:secret@db/esep", "sqlite:"} {
		_, err := Open(t.Context(), dsn)
		if !errors.Is(err, ErrDSN) {
			t.Errorf("Open(%q): got %v, want ErrDSN", dsn, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q): error %q shows the password", dsn, err)
		}
	}
}
