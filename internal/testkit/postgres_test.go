package testkit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// checkRoundTrip creates a table in db, stores rows in it and reads them
// back, so that a wrong encoding or a read-only database shows.
func checkRoundTrip(t *testing.T, db *Postgres) {
	t.Helper()
	conn := db.Conn(t)
	ctx := t.Context()

	_, err := conn.Exec(ctx, `CREATE TABLE meter (id int PRIMARY KEY, building text)`)
	if err != nil {
		t.Fatalf("create table in %s: %v", db.Name(), err)
	}

	tests := []struct {
		name     string
		id       int
		building string
	}{
		{name: "ascii", id: 1, building: "Main St 1"},
		{name: "cyrillic with separators", id: 2, building: "ул. Абая, 1=A"},
		{name: "empty", id: 3, building: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := conn.Exec(ctx, `INSERT INTO meter VALUES ($1, $2)`, tt.id, tt.building)
			if err != nil {
				t.Fatalf("insert %d: %v", tt.id, err)
			}

			var got string
			err = conn.QueryRow(ctx, `SELECT building FROM meter WHERE id = $1`, tt.id).Scan(&got)
			if err != nil {
				t.Fatalf("select %d: %v", tt.id, err)
			}
			if got != tt.building {
				t.Errorf("building of %d = %q, want %q", tt.id, got, tt.building)
			}
		})
	}
}

func TestPostgresRoundTrip(t *testing.T) {
	checkRoundTrip(t, StartPostgres(t))
}

func TestPostgresDatabasesAreSeparate(t *testing.T) {
	a, b := StartPostgres(t), StartPostgres(t)
	if a.Name() == b.Name() || a.DSN() == b.DSN() {
		t.Fatalf("two calls gave the same database: %s and %s", a.DSN(), b.DSN())
	}

	ctx := t.Context()
	if _, err := a.Conn(t).Exec(ctx, `CREATE TABLE only_in_a (x int)`); err != nil {
		t.Fatalf("create table in %s: %v", a.Name(), err)
	}
	_, err := b.Conn(t).Exec(ctx, `SELECT x FROM only_in_a`)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("table of %s seen from %s: err = %v, want \"does not exist\"",
			a.Name(), b.Name(), err)
	}
}

func TestPostgresDroppedAtCleanup(t *testing.T) {
	var db *Postgres
	t.Run("use", func(t *testing.T) {
		db = StartPostgres(t)
		db.Conn(t)
	})

	_, err := pgx.Connect(t.Context(), db.DSN())
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("connect to %s after its test ended: err = %v, want \"does not exist\"",
			db.Name(), err)
	}
}

// TestPostgresTemporaryCluster takes the path StartPostgres takes when no
// server runs on 127.0.0.1:5432.
func TestPostgresTemporaryCluster(t *testing.T) {
	var dir string
	t.Run("use", func(t *testing.T) {
		db := createTestDatabase(t, startPostgresCluster(t))
		checkRoundTrip(t, db)

		// Prove that the database lives in the temporary cluster.
		err := db.Conn(t).QueryRow(t.Context(), `SHOW data_directory`).Scan(&dir)
		if err != nil {
			t.Fatalf("ask %s for its data directory: %v", db.Name(), err)
		}
		if !strings.HasPrefix(dir, os.TempDir()) {
			t.Errorf("data_directory = %s, want one under %s", dir, os.TempDir())
		}
	})
	if dir == "" {
		return
	}

	base := filepath.Dir(dir)
	if _, err := os.Stat(base); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory %s left behind: stat err = %v", base, err)
	}
}
