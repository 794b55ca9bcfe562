// Command devstack runs Kesu on one machine: an embedded NATS server with
// JetStream, a private PostgreSQL cluster, and each service as its own process
// (DESIGN.md §10). `make run` and `make test` call it.
//
//	devstack run                 the whole stack, until Ctrl-C
//	devstack testenv -- CMD...   CMD with DATABASE_URL set to a private, throw-away cluster
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string) int {
	cmd := "run"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		if err := run(ctx, args); err != nil {
			fmt.Fprintln(os.Stderr, "devstack:", err)
			return 1
		}
		return 0
	case "testenv":
		return testenv(ctx, args)
	case "help", "-h", "--help":
		fmt.Println("usage: devstack run [flags] | devstack testenv -- CMD [ARGS...]")
		return 0
	}
	fmt.Fprintf(os.Stderr, "devstack: unknown command %q (run, testenv)\n", cmd)
	return 2
}
