// Package pgtest gives every test its own PostgreSQL database on a real
// server.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// With DATABASE_URL set (`make test` starts one cluster and exports the
// admin URL of its postgres database) the packages share that server;
// otherwise Main starts a private cluster (pgcluster, Fast) in a temporary
// directory for this test binary and stops it afterwards, so a plain
// `go test` needs no setup beyond Debian's postgresql package.
//
// NewDB creates a fresh database from template0 per call and drops it (WITH
// FORCE) when the test ends, so tests and packages never see each other's
// rows and may run in parallel.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kesu315/kesu/services/kit/pgcluster"
)

// EnvDatabaseURL names the variable holding the admin URL of a shared
// server; its user must be allowed to CREATE and DROP databases.
const EnvDatabaseURL = "DATABASE_URL"

// adminURL is the one piece of state a TestMain hook can hand to the tests
// of its binary.
var admin struct {
	sync.Mutex
	url string
}

// Main runs the tests of a package against a PostgreSQL server and exits
// with their status. Call it from TestMain.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	u := os.Getenv(EnvDatabaseURL)
	if u == "" {
		c, dir, err := startPrivate()
		if err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
			return 1
		}
		defer os.RemoveAll(dir)
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := c.Stop(ctx); err != nil {
				fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
			}
		}()
		u = c.URL("postgres")
	}
	admin.Lock()
	admin.url = u
	admin.Unlock()
	return m.Run()
}

func startPrivate() (*pgcluster.Cluster, string, error) {
	// Not t.TempDir: there is no t yet, and its parent is private to the
	// test's user, which the postgres user could not enter when we are root.
	dir, err := os.MkdirTemp("", "kesu-pgtest-")
	if err != nil {
		return nil, "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Fast: true, StopOnExit: true})
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	return c, dir, nil
}

func adminURL(t testing.TB) string {
	t.Helper()
	admin.Lock()
	u := admin.url
	admin.Unlock()
	if u == "" {
		u = os.Getenv(EnvDatabaseURL)
	}
	if u == "" {
		t.Fatal("pgtest: no server: call pgtest.Main(m) from TestMain, or set DATABASE_URL")
	}
	return u
}

// NewDB creates a fresh database for this test and returns a pool on it;
// the pool is closed and the database dropped when the test ends.
func NewDB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	u := NewDBURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		t.Fatalf("pgtest: open pool: %v", err)
	}
	t.Cleanup(pool.Close) // runs before the drop registered by NewDBURL
	return pool
}

// NewDBURL creates a fresh database for this test and returns its URL, for
// code that opens its own connections (a service's main). The database is
// dropped when the test ends, disconnecting whoever is still on it.
func NewDBURL(t testing.TB) string {
	t.Helper()
	base := adminURL(t)
	name := dbName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", redact(base), err)
	}
	defer conn.Close(context.Background())
	// template0 takes no connections, so parallel creations never trip over
	// "source database is being accessed by other users" as template1 can.
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() { dropDB(t, base, name) })
	u, err := withDatabase(base, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return u
}

// URL is the connection string of a pool made by NewDB.
func URL(pool *pgxpool.Pool) string {
	return pool.Config().ConnString()
}

func dropDB(t testing.TB, base, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Errorf("pgtest: drop database %s: %v", name, err)
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("pgtest: drop database %s: %v", name, err)
	}
}

// dbName is unique and says which test made it, for whoever finds it
// left behind on a shared server.
func dbName(testName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= 36 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	return "t_" + strings.Trim(b.String(), "_") + "_" + hex.EncodeToString(rnd[:])
}

// withDatabase points a connection string (URL or keyword/value form) at
// database name.
func withDatabase(connString, name string) (string, error) {
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		u, err := url.Parse(connString)
		if err != nil {
			return "", fmt.Errorf("%s: %w", EnvDatabaseURL, err)
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// Keyword/value form: a later dbname overrides an earlier one.
	return connString + " dbname=" + name, nil
}

func redact(connString string) string {
	if u, err := url.Parse(connString); err == nil && u.User != nil {
		return u.Redacted()
	}
	return "DATABASE_URL"
}
