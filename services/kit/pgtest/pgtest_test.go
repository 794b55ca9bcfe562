package pgtest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kesu315/kesu/services/kit/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func dbExists(t *testing.T, ctx context.Context, url, name string) bool {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// Each NewDB is its own database: a table made in one is absent from the
// other, and the database is gone once its test ends.
func TestNewDBIsolatedAndDropped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var first string
	t.Run("a", func(t *testing.T) {
		a, b := pgtest.NewDB(t), pgtest.NewDB(t)
		if _, err := a.Exec(ctx, "CREATE TABLE only_in_a (v int)"); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := b.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatal("table created in one database is visible in another")
		}
		if err := a.QueryRow(ctx, "SELECT current_database()").Scan(&first); err != nil {
			t.Fatal(err)
		}
		if u := pgtest.URL(b); !strings.Contains(u, "/t_testnewdbisolatedanddropped_a_") {
			t.Fatalf("URL %s does not name the test's database", u)
		}
	})
	probe := pgtest.NewDBURL(t)
	if first == "" {
		t.Fatal("subtest did not run")
	}
	if dbExists(t, ctx, probe, first) {
		t.Fatalf("database %s still exists after its test ended", first)
	}
}

// `make test` runs packages in parallel against one server: concurrent
// creations must all succeed.
func TestNewDBConcurrent(t *testing.T) {
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			pool := pgtest.NewDB(t)
			var one int
			if err := pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
				t.Fatalf("SELECT 1 = %d, %v", one, err)
			}
		})
	}
}
