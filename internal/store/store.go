// Package store keeps the ingestor's state in SQL: buildings, agents,
// meters and who may report them, the latest value of every meter and
// quantity, per-day reading counts, quarantined messages and each agent's
// sequence numbers with their gaps. PostgreSQL serves production and
// replicas share it; SQLite is the embedded default for one ingestor.
// Every write is idempotent, so redelivery and replicas never double or
// regress a value. docs/store.md describes the tables.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// zone is where local days begin: Kazakhstan keeps one zone, UTC+5 since
// 1 March 2024, and per-day counts follow the local calendar.
const zone = "Asia/Almaty"

// Store is the ingestor's SQL state. It is safe for concurrent use, and
// any number of Stores (one per replica) may share a PostgreSQL database.
type Store struct {
	db      *sql.DB
	dialect goose.Dialect
	loc     *time.Location
	now     func() time.Time // when things happen; tests replace it
}

// Open connects to the database named by dsn, brings its schema up to the
// newest migration and returns the Store. A dsn starting postgres:// or
// postgresql:// is PostgreSQL (through pgx); one starting sqlite: or any
// other path is an SQLite file, created when missing.
func Open(ctx context.Context, dsn string) (*Store, error) {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("cannot load time zone %q: %w", zone, err)
	}
	db, dialect, err := connect(dsn)
	if err != nil {
		return nil, err
	}

	s := &Store{db: db, dialect: dialect, loc: loc, now: time.Now}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database connections.
func (s *Store) Close() error {
	return s.db.Close()
}

// connect opens the pool for dsn with the driver its form names.
func connect(dsn string) (*sql.DB, goose.Dialect, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, "", fmt.Errorf("cannot open PostgreSQL %q: %w", redact(dsn), err)
		}
		return db, goose.DialectPostgres, nil
	}

	path := strings.TrimPrefix(dsn, "sqlite:")
	if path == "" || strings.Contains(dsn, "://") && !strings.HasPrefix(dsn, "sqlite:") {
		return nil, "", fmt.Errorf("cannot open database %q: %w", redact(dsn), ErrDSN)
	}
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		return nil, "", fmt.Errorf("cannot open SQLite %q: %w", path, err)
	}
	// SQLite has one writer per file. One connection serialises this
	// process's transactions in Go instead of failing them with SQLITE_BUSY.
	db.SetMaxOpenConns(1)
	return db, goose.DialectSQLite3, nil
}

// sqliteDSN adds the settings every connection needs to path: foreign
// keys on (SQLite leaves them off), the write-ahead log so readers do not
// block the writer, a busy timeout for another process holding the lock,
// and IMMEDIATE transactions, which take the write lock at BEGIN rather
// than failing at their first write.
func sqliteDSN(path string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)" +
		"&_pragma=busy_timeout(10000)&_txlock=immediate"
}

// redact drops the password from a URL-form DSN for error messages.
func redact(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	scheme := strings.Index(dsn, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return dsn
	}
	user := dsn[scheme+3 : at]
	if i := strings.Index(user, ":"); i >= 0 {
		user = user[:i] + ":xxxxx"
	}
	return dsn[:scheme+3] + user + dsn[at:]
}

// migrate applies the embedded migrations not yet applied. On PostgreSQL
// an advisory lock makes replicas starting together take turns.
func (s *Store) migrate(ctx context.Context) error {
	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("cannot read migrations %q: %w", "migrations", err)
	}
	var opts []goose.ProviderOption
	if s.dialect == goose.DialectPostgres {
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("cannot make migration lock %q: %w", s.dialect, err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}

	p, err := goose.NewProvider(s.dialect, s.db, dir, opts...)
	if err != nil {
		return fmt.Errorf("cannot prepare migrations %q: %w", s.dialect, err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("cannot migrate %q database: %w", s.dialect, err)
	}
	return nil
}

// maxAttempts bounds how often a transaction is retried after PostgreSQL
// chose it as a deadlock victim or failed its serialisation; both say
// "run it again" and leave nothing behind.
const maxAttempts = 5

// inTx runs fn in one transaction and commits it, retrying it whole when
// PostgreSQL asks for that.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	var err error
	for range maxAttempts {
		if err = s.tryTx(ctx, fn); !retryable(err) {
			return err
		}
	}
	return err
}

func (s *Store) tryTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// retryable reports whether err is a PostgreSQL deadlock (40P01) or
// serialisation failure (40001), after which the transaction may be rerun.
func retryable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001")
}

// ms is t as the schema stores times: milliseconds since the Unix epoch.
func ms(t time.Time) int64 {
	return t.UnixMilli()
}

// fromMS turns a stored time back into UTC, with 0 as the zero time.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}
