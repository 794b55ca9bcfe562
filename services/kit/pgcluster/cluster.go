// Package pgcluster runs a private PostgreSQL cluster with the machine's own
// initdb and pg_ctl, for the devstack (`make run`) and for tests.
//
// This is a development and test cluster only: it trusts every connection on
// the loopback interface without a password, listens on 127.0.0.1 only, and
// with Options.Fast it trades durability for speed. Never point production at
// it.
//
// Layout of Options.Dir:
//
//	Dir/data             PGDATA (initdb on first Start, reused afterwards)
//	Dir/data/kesu.conf   settings rewritten on every Start (port, sockets, Fast)
//	Dir/data/server.log  the server's log
//	Dir/port             the port picked on the first Start, reused afterwards
//
// PostgreSQL refuses to run as root. When the process is root, initdb and
// pg_ctl run as the postgres system user (created by Debian's postgresql
// package) on a data directory it owns; every parent of Dir must then be
// searchable by that user, which Start checks up front.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Superuser is the cluster's superuser role; it authenticates by trust.
const Superuser = "postgres"

// Options configure Start.
type Options struct {
	// Dir holds the cluster (see the package doc). Required.
	Dir string
	// Port to listen on; 0 picks a free port on the first Start and remembers
	// it in Dir so the next Start (a second `make run`) gets the same URL.
	Port int
	// Host is the listen address; default 127.0.0.1.
	Host string
	// BinDir holds initdb, pg_ctl and postgres. Empty: PATH, then the highest
	// /usr/lib/postgresql/<version>/bin (the data directory's own version first).
	BinDir string
	// Fast turns off fsync, synchronous_commit and full_page_writes: a crash
	// may lose or corrupt data, which is fine for tests and nothing else.
	Fast bool
	// StopOnExit stops the server (immediate mode) when this process exits,
	// even by a crash or a test timeout, so no orphan postmaster is left
	// behind. It runs a small watchdog process that waits for the end of a
	// pipe held by this process.
	StopOnExit bool
	// Logger receives lifecycle messages; nil discards them.
	Logger *slog.Logger
}

// Cluster is a running private PostgreSQL server.
type Cluster struct {
	host    string
	port    int
	dir     string
	dataDir string
	binDir  string
	reused  bool
	runner  runner
	log     *slog.Logger

	mu          sync.Mutex
	stopped     bool
	watchdog    *exec.Cmd
	watchdogOut io.Closer
}

// Start initialises the cluster in opts.Dir if there is none yet, and starts
// it. If a server is already running on that directory it is reused (see
// Reused); a postmaster.pid left by a crashed server is removed.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("%w: Dir: required", ErrInvalidOptions)
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("%w: Port: %d is outside 0..65535", ErrInvalidOptions, opts.Port)
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: Dir %q: %w", opts.Dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pgcluster: create %s: %w", dir, err)
	}
	r, err := newRunner(dir)
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "data")
	binDir, err := findBinDir(opts.BinDir, dataVersion(dataDir))
	if err != nil {
		return nil, err
	}
	if err := r.prepareDirs(dir, dataDir); err != nil {
		return nil, err
	}
	c := &Cluster{
		host:    opts.Host,
		dir:     dir,
		dataDir: dataDir,
		binDir:  binDir,
		runner:  r,
		log:     logger.With("component", "pgcluster", "dir", dir),
	}

	if pf, ok := readLivePIDFile(dataDir); ok {
		if opts.Port != 0 && pf.port != opts.Port {
			return nil, fmt.Errorf("%w: a server is already running in %s on port %d, not the requested port %d", ErrStartFailed, dataDir, pf.port, opts.Port)
		}
		if err := waitReady(ctx, dataDir); err != nil {
			return nil, err
		}
		c.port, c.reused = pf.port, true
		c.log.Info("reusing running PostgreSQL", "port", c.port, "pid", pf.pid)
	} else {
		removeStaleLocks(dataDir, c.log)
		if dataVersion(dataDir) == "" {
			if err := c.initdb(ctx, opts.Fast); err != nil {
				return nil, err
			}
		}
		if err := c.ensureInclude(); err != nil {
			return nil, err
		}
		if err := c.start(ctx, opts); err != nil {
			return nil, err
		}
	}
	if opts.StopOnExit {
		if err := c.startWatchdog(); err != nil {
			_ = c.Stop(context.WithoutCancel(ctx))
			return nil, err
		}
	}
	return c, nil
}

// URL is the connection URL of database db as the superuser.
func (c *Cluster) URL(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(Superuser),
		Host:     net.JoinHostPort(c.host, strconv.Itoa(c.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port is the TCP port the server listens on.
func (c *Cluster) Port() int { return c.port }

// DataDir is PGDATA.
func (c *Cluster) DataDir() string { return c.dataDir }

// Reused reports whether Start found the server already running rather than
// starting it. Stop stops it either way; a caller sharing a server it did not
// start may prefer not to.
func (c *Cluster) Reused() bool { return c.reused }

// CreateDatabase creates database name (from template0, UTF8). An existing
// database of that name is not an error, so a second `make run` is a no-op.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	if name == "" || len(name) > 63 {
		return fmt.Errorf("%w: database name %q: must be 1..63 bytes", ErrInvalidOptions, name)
	}
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("pgcluster: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0 ENCODING 'UTF8'")
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database
		return nil
	}
	if err != nil {
		return fmt.Errorf("pgcluster: create database %q: %w", name, err)
	}
	return nil
}

// Stop shuts the server down (pg_ctl stop -m fast: sessions are
// disconnected, no crash recovery at the next start) and ends the watchdog.
// Stopping twice is a no-op.
func (c *Cluster) Stop(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	c.stopped = true
	var err error
	if _, running := readLivePIDFile(c.dataDir); running {
		out, runErr := c.runner.output(ctx, c.bin("pg_ctl"), "stop", "-D", c.dataDir, "-m", "fast", "-w", "-t", "60")
		if runErr != nil {
			err = fmt.Errorf("pgcluster: pg_ctl stop: %w: %s", runErr, strings.TrimSpace(out))
		} else {
			c.log.Info("PostgreSQL stopped", "port", c.port)
		}
	}
	if c.watchdog != nil {
		// Kill rather than close the pipe: closing would make the watchdog
		// run pg_ctl stop, which has nothing left to do.
		_ = c.watchdog.Process.Kill()
		_ = c.watchdog.Wait()
		_ = c.watchdogOut.Close()
	}
	return err
}

func (c *Cluster) bin(name string) string { return filepath.Join(c.binDir, name) }

func (c *Cluster) initdb(ctx context.Context, fast bool) error {
	args := []string{"-D", c.dataDir, "-U", Superuser, "-A", "trust", "-E", "UTF8", "--locale=C"}
	if fast {
		args = append(args, "--no-sync")
	}
	c.log.Info("initialising PostgreSQL cluster", "bin", c.binDir)
	out, err := c.runner.output(ctx, c.bin("initdb"), args...)
	if err != nil {
		return fmt.Errorf("pgcluster: initdb %s: %w: %s", c.dataDir, err, strings.TrimSpace(out))
	}
	return nil
}

const includeLine = "include_if_exists = 'kesu.conf'\t# written by kesu pgcluster on every start\n"

// ensureInclude makes postgresql.conf read kesu.conf, where Start writes the
// settings of this run; keeping them out of postgresql.conf avoids shell
// quoting through pg_ctl -o and lets Fast change between runs.
func (c *Cluster) ensureInclude() error {
	path := filepath.Join(c.dataDir, "postgresql.conf")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("pgcluster: read %s: %w", path, err)
	}
	if strings.Contains(string(b), "include_if_exists = 'kesu.conf'") {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if _, err := f.WriteString("\n" + includeLine); err != nil {
		f.Close()
		return fmt.Errorf("pgcluster: append to %s: %w", path, err)
	}
	return f.Close()
}

// sunPathMax is the usable length of a Unix socket path (sizeof sun_path - 1).
const sunPathMax = 107

func (c *Cluster) writeConf(port int, fast bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by kesu pgcluster on every start; edits are overwritten.\n")
	fmt.Fprintf(&b, "listen_addresses = %s\n", confQuote(c.host))
	fmt.Fprintf(&b, "port = %d\n", port)
	sock := fmt.Sprintf("%s/.s.PGSQL.%d", c.dataDir, port)
	if len(sock) <= sunPathMax {
		fmt.Fprintf(&b, "unix_socket_directories = %s\n", confQuote(c.dataDir))
	} else {
		// Too long for a Unix socket; clients use TCP anyway.
		fmt.Fprintf(&b, "unix_socket_directories = ''\n")
	}
	// Each test package opens a few pools in parallel on one shared cluster.
	fmt.Fprintf(&b, "max_connections = 300\n")
	fmt.Fprintf(&b, "timezone = 'UTC'\nlog_timezone = 'UTC'\n")
	if fast {
		fmt.Fprintf(&b, "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
		// Parallel query uses /dev/shm, which containers keep small.
		fmt.Fprintf(&b, "max_parallel_workers_per_gather = 0\n")
	}
	return c.runner.writeFile(filepath.Join(c.dataDir, "kesu.conf"), []byte(b.String()))
}

func confQuote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", "''") + "'"
}

func (c *Cluster) portFile() string { return filepath.Join(c.dir, "port") }

// pickPort returns the port to try: the requested one, else the remembered
// one while it is free, else a fresh free one.
func (c *Cluster) pickPort(requested int, avoid map[int]bool) (port int, auto bool, err error) {
	if requested != 0 {
		return requested, false, nil
	}
	if b, err := os.ReadFile(c.portFile()); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && p > 0 && p <= 65535 && !avoid[p] {
			if portFree(c.host, p) {
				return p, true, nil
			}
			c.log.Warn("remembered port is taken; picking another", "port", p)
		}
	}
	for range 10 {
		p, err := freePort(c.host)
		if err != nil {
			return 0, true, err
		}
		if !avoid[p] {
			return p, true, nil
		}
	}
	return 0, true, fmt.Errorf("pgcluster: no free port on %s", c.host)
}

func (c *Cluster) start(ctx context.Context, opts Options) error {
	logPath := filepath.Join(c.dataDir, "server.log")
	tried := map[int]bool{}
	for attempt := 0; ; attempt++ {
		port, auto, err := c.pickPort(opts.Port, tried)
		if err != nil {
			return err
		}
		tried[port] = true
		if err := c.writeConf(port, opts.Fast); err != nil {
			return err
		}
		var logStart int64
		if fi, err := os.Stat(logPath); err == nil {
			logStart = fi.Size()
		}
		out, err := c.runner.output(ctx, c.bin("pg_ctl"), "start", "-w", "-t", "120", "-s", "-D", c.dataDir, "-l", logPath)
		if err == nil {
			c.port = port
			if auto {
				if err := os.WriteFile(c.portFile(), []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
					return fmt.Errorf("pgcluster: remember port: %w", err)
				}
			}
			c.log.Info("PostgreSQL started", "port", port, "fast", opts.Fast)
			return nil
		}
		tail := logTail(logPath, logStart, 20)
		if auto && attempt < 3 && strings.Contains(tail, "already in use") {
			c.log.Warn("port taken while starting; retrying on another", "port", port)
			continue
		}
		return fmt.Errorf("%w: pg_ctl start in %s: %v: %s\n--- %s (tail) ---\n%s", ErrStartFailed, c.dataDir, err, strings.TrimSpace(out), logPath, tail)
	}
}

func (c *Cluster) startWatchdog() error {
	// sh waits for EOF on its stdin, which only happens once every copy of
	// the pipe's write end is closed: when this process exits, however it
	// exits. Its own process group keeps it out of terminal Ctrl-C.
	cmd := c.runner.command(context.Background(), "/bin/sh", "-c",
		`read _ ; exec "$1" stop -D "$2" -m immediate -s`, "pgcluster-watchdog", c.bin("pg_ctl"), c.dataDir)
	cmd.WaitDelay = 0
	w, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("pgcluster: watchdog: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgcluster: watchdog: %w", err)
	}
	c.watchdog, c.watchdogOut = cmd, w
	return nil
}

func portFree(host string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("pgcluster: pick a free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logTail returns the last n lines written to path from offset on.
func logTail(path string, offset int64, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no server log: " + err.Error() + ")"
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitReady waits for a running postmaster to report "ready" in its pid file.
func waitReady(ctx context.Context, dataDir string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		pf, ok := readLivePIDFile(dataDir)
		if !ok {
			return fmt.Errorf("%w: the server running in %s went away", ErrStartFailed, dataDir)
		}
		if pf.status == "ready" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: the server running in %s is %q, not ready: %w", ErrStartFailed, dataDir, pf.status, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
