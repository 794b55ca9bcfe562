package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"time"

	"github.com/kesu315/kesu/services/kit/pgcluster"
)

// testenv runs a command with DATABASE_URL pointing at a private PostgreSQL
// cluster made for this one run, so every test package of `make test` shares one
// server (each still gets its own database from pgtest) instead of starting its
// own. A DATABASE_URL already set is kept: CI or a developer may bring a server.
func testenv(ctx context.Context, args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "devstack testenv: no command given (devstack testenv -- go test ./...)")
		return 2
	}
	env := os.Environ()
	if os.Getenv("DATABASE_URL") == "" {
		dir, err := os.MkdirTemp("", "kesu-testdb-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "devstack testenv:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		cluster, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Fast: true, StopOnExit: true, Logger: log})
		if err != nil {
			fmt.Fprintln(os.Stderr, "devstack testenv: start PostgreSQL:", err)
			return 1
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := cluster.Stop(sctx); err != nil {
				fmt.Fprintln(os.Stderr, "devstack testenv: stop PostgreSQL:", err)
			}
		}()
		url := cluster.URL("postgres")
		fmt.Fprintf(os.Stderr, "devstack testenv: private PostgreSQL at %s\n", url)
		env = append(env, "DATABASE_URL="+url)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// On Ctrl-C the child gets the signal from the terminal too; give it time to
	// report before it is killed.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintln(os.Stderr, "devstack testenv:", err)
		return 1
	}
	return 0
}
