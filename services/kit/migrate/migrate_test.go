package migrate_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kesu315/kesu/services/kit/migrate"
	"github.com/kesu315/kesu/services/kit/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func files(kv ...string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for i := 0; i < len(kv); i += 2 {
		fsys[kv[i]] = &fstest.MapFile{Data: []byte(kv[i+1])}
	}
	return fsys
}

func count(t *testing.T, ctx context.Context, pool *pgxpool.Pool, sql string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(ctx, sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

const (
	initSQL = `CREATE TABLE items (id int PRIMARY KEY, label text);`
	seedSQL = `INSERT INTO items VALUES (1, 'one'); INSERT INTO items VALUES (2, 'two');`
)

func TestApplyRunsFilesInVersionOrderOnce(t *testing.T) {
	ctx := testContext(t)
	pool := pgtest.NewDB(t)
	// 0002 needs the table 0001 makes; map order must not matter.
	fsys := files("0002_seed.sql", seedSQL, "0001_init.sql", initSQL, "README.md", "not a migration")
	for range 2 {
		if err := migrate.Apply(ctx, pool, "svc", fsys); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	if n := count(t, ctx, pool, "SELECT count(*) FROM svc.items"); n != 2 {
		t.Fatalf("svc.items has %d rows, want 2 (seed applied once)", n)
	}
	fsys["0003_more.sql"] = &fstest.MapFile{Data: []byte(`INSERT INTO items VALUES (3, 'three')`)}
	if err := migrate.Apply(ctx, pool, "svc", fsys); err != nil {
		t.Fatalf("Apply with a new file: %v", err)
	}
	applied, err := migrate.Applied(ctx, pool, "svc")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range applied {
		names = append(names, m.Name)
	}
	if got := strings.Join(names, ","); got != "0001_init.sql,0002_seed.sql,0003_more.sql" {
		t.Fatalf("applied = %s", got)
	}
	if n := count(t, ctx, pool, "SELECT count(*) FROM svc.items"); n != 3 {
		t.Fatalf("svc.items has %d rows, want 3", n)
	}
}

func TestApplyRejects(t *testing.T) {
	tests := []struct {
		name  string
		fsys  fstest.MapFS
		want  error
		names []string
	}{
		{"short version", files("1_init.sql", initSQL), migrate.ErrBadFileName, []string{"1_init.sql"}},
		{"dash separator", files("0001-init.sql", initSQL), migrate.ErrBadFileName, []string{"0001-init.sql"}},
		{"no name", files("0001_.sql", initSQL), migrate.ErrBadFileName, []string{"0001_.sql"}},
		{"letters", files("abcd_init.sql", initSQL), migrate.ErrBadFileName, []string{"abcd_init.sql"}},
		{"version zero", files("0000_init.sql", initSQL), migrate.ErrBadFileName, []string{"0000_init.sql"}},
		{"space in name", files("0001_my init.sql", initSQL), migrate.ErrBadFileName, []string{"0001_my init.sql"}},
		{"duplicate version", files("0001_a.sql", initSQL, "0001_b.sql", seedSQL), migrate.ErrDuplicateVersion, []string{"0001_a.sql", "0001_b.sql"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := migrate.Load(tt.fsys)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Load error = %v, want %v", err, tt.want)
			}
			for _, n := range tt.names {
				if !strings.Contains(err.Error(), n) {
					t.Fatalf("error %q does not name %s", err, n)
				}
			}
		})
	}
	t.Run("empty schema", func(t *testing.T) {
		err := migrate.Apply(testContext(t), nil, "", files())
		if !errors.Is(err, migrate.ErrInvalidSchema) {
			t.Fatalf("error = %v, want ErrInvalidSchema", err)
		}
	})
}

func TestChangedAppliedFileIsAnError(t *testing.T) {
	ctx := testContext(t)
	pool := pgtest.NewDB(t)
	fsys := files("0001_init.sql", initSQL)
	if err := migrate.Apply(ctx, pool, "svc", fsys); err != nil {
		t.Fatal(err)
	}
	fsys["0001_init.sql"] = &fstest.MapFile{Data: []byte(initSQL + "\n-- edited")}
	fsys["0002_seed.sql"] = &fstest.MapFile{Data: []byte(seedSQL)}
	err := migrate.Apply(ctx, pool, "svc", fsys)
	if !errors.Is(err, migrate.ErrChanged) || !strings.Contains(err.Error(), "0001_init.sql") {
		t.Fatalf("error = %v, want ErrChanged naming 0001_init.sql", err)
	}
	if n := count(t, ctx, pool, "SELECT count(*) FROM svc.items"); n != 0 {
		t.Fatal("a migration after the changed one was applied")
	}
}

// A failing file leaves nothing behind and names itself; once fixed, it
// applies.
func TestFailedFileRollsBack(t *testing.T) {
	ctx := testContext(t)
	pool := pgtest.NewDB(t)
	fsys := files("0001_init.sql", initSQL, "0002_broken.sql", `CREATE TABLE half (v int); SELECT 1/0;`)
	err := migrate.Apply(ctx, pool, "svc", fsys)
	if err == nil || !strings.Contains(err.Error(), "0002_broken.sql") || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("error = %v, want the division by zero naming 0002_broken.sql", err)
	}
	if n := count(t, ctx, pool, "SELECT count(*) FROM pg_tables WHERE schemaname = 'svc' AND tablename = 'half'"); n != 0 {
		t.Fatal("table of the failed migration exists")
	}
	fsys["0002_broken.sql"] = &fstest.MapFile{Data: []byte(`CREATE TABLE half (v int);`)}
	if err := migrate.Apply(ctx, pool, "svc", fsys); err != nil {
		t.Fatalf("Apply after fixing: %v", err)
	}
	applied, err := migrate.Applied(ctx, pool, "svc")
	if err != nil || len(applied) != 2 {
		t.Fatalf("applied = %v, %v; want 2", applied, err)
	}
}

// Replicas starting together each call Apply; every file runs exactly once
// (a second run of 0001 would fail on CREATE TABLE without IF NOT EXISTS).
func TestConcurrentReplicasApplyOnce(t *testing.T) {
	ctx := testContext(t)
	pool := pgtest.NewDB(t)
	fsys := files("0001_init.sql", initSQL, "0002_seed.sql", seedSQL)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() { errs[i] = migrate.Apply(ctx, pool, "svc", fsys) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	if n := count(t, ctx, pool, "SELECT count(*) FROM svc.items"); n != 2 {
		t.Fatalf("svc.items has %d rows, want 2", n)
	}
}

// Two services' schemas keep separate histories in one database.
func TestSchemasAreIndependent(t *testing.T) {
	ctx := testContext(t)
	pool := pgtest.NewDB(t)
	for _, schema := range []string{"intake", "routing"} {
		if err := migrate.Apply(ctx, pool, schema, files("0001_init.sql", initSQL)); err != nil {
			t.Fatalf("%s: %v", schema, err)
		}
	}
	if n := count(t, ctx, pool, "SELECT count(*) FROM pg_tables WHERE tablename = 'items'"); n != 2 {
		t.Fatalf("%d items tables, want one per schema", n)
	}
}

func TestFilesInASubdirectoryAreAnErrorNotANoOp(t *testing.T) {
	_, err := migrate.Load(files("migrations/0001_init.sql", "CREATE TABLE t (id int);"))
	if !errors.Is(err, migrate.ErrNested) || !strings.Contains(err.Error(), `fs.Sub(fsys, "migrations")`) {
		t.Fatalf("Load = %v, want ErrNested telling to use fs.Sub", err)
	}
}
