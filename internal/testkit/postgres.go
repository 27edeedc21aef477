package testkit

import (
	"cmp"
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgDSNEnv names the variable that points the tests at a PostgreSQL
// server of one's own. Its DSN must be allowed to create databases.
const pgDSNEnv = "ESEP_TEST_PG_DSN"

// pgLocalDSN is the server Debian's postgresql package runs, reached over
// TCP as the superuser with trust authentication for loopback.
const pgLocalDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// pgProbeTimeout bounds one connection attempt. A local server answers in
// milliseconds; one that is down refuses at once.
const pgProbeTimeout = 2 * time.Second

// Postgres is an empty database made for one test and dropped when the
// test ends, on the local server or on a temporary cluster.
type Postgres struct {
	name string
	dsn  string
}

// StartPostgres creates a fresh database for the test. It uses the server
// named by ESEP_TEST_PG_DSN, else the one on 127.0.0.1:5432, else it runs
// initdb and postgres in a temporary directory. With no server and no
// initdb the test is skipped, or fails under CI.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	admin := localPostgres(t)
	if admin == "" {
		admin = startPostgresCluster(t)
	}
	return createTestDatabase(t, admin)
}

// DSN returns the database's connection URL, for pgx and libpq alike.
func (p *Postgres) DSN() string {
	return p.dsn
}

// Name returns the database's name, unique to the test.
func (p *Postgres) Name() string {
	return p.name
}

// Conn connects to the database and closes the connection when the test
// ends; a failure to connect fails the test.
func (p *Postgres) Conn(t testing.TB) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), p.dsn)
	if err != nil {
		t.Fatalf("connect to test database %q: %v", p.name, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// localPostgres returns the DSN of a running server to create databases
// on, or "" when there is none and a temporary cluster is needed.
func localPostgres(t testing.TB) string {
	t.Helper()
	if dsn := os.Getenv(pgDSNEnv); dsn != "" {
		// An explicit choice that fails is an error, not a hint to fall back.
		if err := pingPostgres(t.Context(), dsn); err != nil {
			t.Fatalf("use PostgreSQL from %s: %v", pgDSNEnv, err)
		}
		return dsn
	}

	if err := pingPostgres(t.Context(), pgLocalDSN); err != nil {
		t.Logf("no usable PostgreSQL on 127.0.0.1:5432, starting a temporary cluster: %v", err)
		return ""
	}
	return pgLocalDSN
}

// pingPostgres connects to dsn once and hangs up.
func pingPostgres(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, pgProbeTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// createTestDatabase creates a database with a unique name on the server
// at admin and drops it, with any sessions still open, when the test ends.
func createTestDatabase(t testing.TB, admin string) *Postgres {
	t.Helper()
	p := &Postgres{name: "esep_test_" + strings.ToLower(rand.Text())}
	p.dsn = withDatabase(admin, p.name)

	ident := pgx.Identifier{p.name}.Sanitize()
	if err := execAdmin(t.Context(), admin, "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("create test database %q: %v", p.name, err)
	}
	t.Cleanup(func() {
		// The test's context is already cancelled when cleanups run.
		drop := "DROP DATABASE IF EXISTS " + ident + " WITH (FORCE)"
		if err := execAdmin(context.Background(), admin, drop); err != nil {
			t.Errorf("drop test database %q: %v", p.name, err)
		}
	})
	return p
}

// execAdmin runs one statement on a short-lived connection to the
// server's maintenance database: a database cannot be dropped from a
// session connected to it.
func execAdmin(ctx context.Context, admin, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())

	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase returns dsn pointed at database name, in either of the
// forms libpq accepts: a URL or key=value pairs, where the last key wins.
func withDatabase(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return dsn + " dbname=" + name
	}
	u.Path = "/" + name
	return u.String()
}

// startPostgresCluster runs initdb and postgres in a temporary directory
// and returns the superuser's DSN. The server is killed when the test ends.
func startPostgresCluster(t testing.TB) string {
	t.Helper()
	initdb := LookBinary(t, "initdb", "postgresql", pgBinDirs()...)
	cred := pgCredential(t)
	data := initCluster(t, initdb, cred)

	// postgres comes from the same installation as initdb, which may be
	// reached through a symbolic link in PATH.
	resolved, err := filepath.EvalSymlinks(initdb)
	if err != nil {
		t.Fatalf("resolve %s: %v", initdb, err)
	}
	server := filepath.Join(filepath.Dir(resolved), "postgres")

	var dsn string
	err = onFreePort(t, func(n int) error {
		port := strconv.Itoa(n)
		dsn = "postgres://postgres@127.0.0.1:" + port + "/postgres?sslmode=disable"
		p := NewProcess(t, server, pgServerArgs(data, port)...)
		p.cred = cred
		return p.startAndWait(func(ctx context.Context) error {
			return pingPostgres(ctx, dsn)
		})
	})
	if err != nil {
		t.Fatalf("start temporary PostgreSQL cluster in %s: %v", data, err)
	}
	return dsn
}

func pgServerArgs(data, port string) []string {
	return []string{
		"-D", data, "-h", "127.0.0.1", "-p", port,
		// No Unix socket: the tests connect over TCP, and a socket path
		// under a long temporary directory can exceed the 107-byte limit.
		"-k", "",
		// A test cluster dies with its test; crash safety only costs time.
		"-c", "fsync=off",
		"-c", "full_page_writes=off",
	}
}

// initCluster runs initdb as cred into a new directory, which is removed
// when the test ends, and returns the data directory.
func initCluster(t testing.TB, initdb string, cred *syscall.Credential) string {
	t.Helper()
	// Not t.TempDir: its parent is private to root, and the postgres
	// account must be able to reach the data directory.
	base, err := os.MkdirTemp("", "esep-pg-")
	if err != nil {
		t.Fatalf("make directory for PostgreSQL cluster: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	if cred != nil {
		if err := os.Chown(base, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatalf("hand %s to the postgres account: %v", base, err)
		}
	}

	data := filepath.Join(base, "data")
	cmd := exec.CommandContext(t.Context(), initdb, "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	// A working directory the postgres account may enter, or initdb warns.
	cmd.Dir = base
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("initdb %s: %v\n%s", data, err, out)
	}
	return data
}

// pgCredential returns whom to run initdb and postgres as: the caller, or
// the postgres account when the tests run as root, which both refuse.
func pgCredential(t testing.TB) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}

	u, err := user.Lookup("postgres")
	if err != nil {
		Missing(t, "OS user postgres to run PostgreSQL as instead of root",
			"apt-get install postgresql")
		return nil
	}
	uid, errU := strconv.ParseUint(u.Uid, 10, 32)
	gid, errG := strconv.ParseUint(u.Gid, 10, 32)
	if errU != nil || errG != nil {
		t.Fatalf("read ids of OS user postgres: uid %q, gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// pgBinDirs lists Debian's per-version PostgreSQL program directories,
// newest first, for when initdb is not in PATH (Debian keeps it out).
func pgBinDirs() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	// By number, so that 16 comes before 9.6.
	slices.SortFunc(dirs, func(a, b string) int {
		return cmp.Compare(version(b), version(a))
	})
	return dirs
}
