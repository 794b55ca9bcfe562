package pgcluster_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kesu315/kesu/services/kit/pgcluster"
)

// clusterDir is a fresh directory the postgres user can reach when the
// tests run as root (t.TempDir's parent is private to the test's user).
func clusterDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgcluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func start(t *testing.T, ctx context.Context, opts pgcluster.Options) *pgcluster.Cluster {
	t.Helper()
	c, err := pgcluster.Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	return c
}

func queryInt(t *testing.T, ctx context.Context, url, sql string) int {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func exec1(t *testing.T, ctx context.Context, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// A second start of the same directory (a second `make run`) keeps the data
// and the port, and a start while it runs reuses the running server.
func TestRestartKeepsDataAndPort(t *testing.T) {
	ctx := testContext(t)
	dir := clusterDir(t)
	c := start(t, ctx, pgcluster.Options{Dir: dir, Fast: true})
	if c.Reused() {
		t.Fatal("first start reports Reused")
	}
	if err := c.CreateDatabase(ctx, "kesu"); err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	if err := c.CreateDatabase(ctx, "kesu"); err != nil {
		t.Fatalf("CreateDatabase twice: %v", err)
	}
	exec1(t, ctx, c.URL("kesu"), "CREATE TABLE t (v int); INSERT INTO t VALUES (42)")

	again, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Fast: true})
	if err != nil {
		t.Fatalf("Start while running: %v", err)
	}
	if !again.Reused() || again.Port() != c.Port() {
		t.Fatalf("Start while running: reused=%v port=%d, want reuse of port %d", again.Reused(), again.Port(), c.Port())
	}

	if err := c.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.DataDir(), "postmaster.pid")); !os.IsNotExist(err) {
		t.Fatalf("postmaster.pid after Stop: %v", err)
	}

	c2 := start(t, ctx, pgcluster.Options{Dir: dir, Fast: true})
	if c2.Reused() {
		t.Fatal("start after stop reports Reused")
	}
	if c2.Port() != c.Port() {
		t.Fatalf("port after restart = %d, want the remembered %d", c2.Port(), c.Port())
	}
	if got := queryInt(t, ctx, c2.URL("kesu"), "SELECT v FROM t"); got != 42 {
		t.Fatalf("row after restart = %d, want 42", got)
	}
	if got := queryInt(t, ctx, c2.URL("postgres"), "SELECT current_setting('fsync')::bool::int"); got != 0 {
		t.Fatal("Fast cluster runs with fsync on")
	}
}

// A postmaster.pid left by a crash, whose pid now belongs to another live
// process, must not keep the cluster from starting.
func TestStalePIDFileFromCrash(t *testing.T) {
	ctx := testContext(t)
	dir := clusterDir(t)
	c := start(t, ctx, pgcluster.Options{Dir: dir, Fast: true})
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// This test process is alive and is not a postmaster of that directory.
	stale := fmt.Sprintf("%d\n%s\n1700000000\n%d\n%s\n127.0.0.1\n  1234  5678\nready   \n",
		os.Getpid(), c.DataDir(), c.Port(), c.DataDir())
	if err := os.WriteFile(filepath.Join(c.DataDir(), "postmaster.pid"), []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	c2 := start(t, ctx, pgcluster.Options{Dir: dir, Fast: true})
	if c2.Reused() {
		t.Fatal("stale pid file taken for a running server")
	}
	if got := queryInt(t, ctx, c2.URL("postgres"), "SELECT 1"); got != 1 {
		t.Fatal("server not answering")
	}
}

func TestStartErrors(t *testing.T) {
	ctx := testContext(t)
	emptyBin := t.TempDir()
	tests := []struct {
		name string
		opts pgcluster.Options
		want error
		text string
	}{
		{"no dir", pgcluster.Options{}, pgcluster.ErrInvalidOptions, "Dir"},
		{"bad port", pgcluster.Options{Dir: t.TempDir(), Port: 70000}, pgcluster.ErrInvalidOptions, "Port"},
		{"no binaries", pgcluster.Options{Dir: clusterDir(t), BinDir: emptyBin}, pgcluster.ErrBinariesNotFound, "PostgreSQL binaries not found (initdb)"},
	}
	if os.Geteuid() == 0 {
		private := t.TempDir() // mode 0700 parent, owned by root
		if err := os.Chmod(filepath.Dir(private), 0o700); err != nil {
			t.Fatal(err)
		}
		tests = append(tests, struct {
			name string
			opts pgcluster.Options
			want error
			text string
		}{"parent not searchable by postgres", pgcluster.Options{Dir: filepath.Join(private, "pg")}, pgcluster.ErrNotSearchable, "chmod o+x " + filepath.Dir(private)})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pgcluster.Start(ctx, tt.opts)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("Start error = %v, want %v mentioning %q", err, tt.want, tt.text)
			}
		})
	}
}

// With StopOnExit, a process that dies without calling Stop (a test binary
// killed by its timeout) takes its server with it.
func TestStopOnExitStopsServerWhenProcessDies(t *testing.T) {
	if dir := os.Getenv("PGCLUSTER_CHILD_DIR"); dir != "" {
		c, err := pgcluster.Start(context.Background(), pgcluster.Options{Dir: dir, Fast: true, StopOnExit: true})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println("port", c.Port())
		os.Exit(0) // no Stop
	}
	ctx := testContext(t)
	dir := clusterDir(t)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestStopOnExitStopsServerWhenProcessDies$")
	cmd.Env = append(os.Environ(), "PGCLUSTER_CHILD_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "port ") {
		t.Fatalf("child did not start a server:\n%s", out)
	}
	pidPath := filepath.Join(dir, "data", "postmaster.pid")
	for {
		if _, err := os.Stat(pidPath); os.IsNotExist(err) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("server still running after its process exited")
		case <-time.After(50 * time.Millisecond):
		}
	}
}
