package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"

	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/grpcserver"
	"github.com/kesu315/kesu/services/kit/runtimeconfig"
	"github.com/kesu315/kesu/services/kit/telemetry"
)

// Runtime is what a service's run and migrate hooks get: its configuration,
// logger, clock, gRPC server, readiness checks, and connections opened on
// demand and closed at shutdown.
type Runtime struct {
	// Name is the service name ("routing").
	Name string
	// Version is the build's version (module version or VCS revision).
	Version string
	Config  runtimeconfig.Config
	Logger  *slog.Logger
	Clock   clock.Clock
	// Telemetry is nil under `migrate`.
	Telemetry *telemetry.Providers
	// GRPC is the server to register services on; nil under `migrate`.
	GRPC *grpcserver.Server
	// Verifier checks bearer tokens (for code outside gRPC, e.g. a gateway).
	Verifier *auth.Verifier
	// Readiness backs /readyz.
	Readiness *telemetry.Readiness

	grpcLis, httpLis net.Listener

	mu      sync.Mutex
	workers []worker
	started bool // workers have been collected; Go is closed
	closers []closer
	nc      *nats.Conn
	pool    *pgxpool.Pool
}

type worker struct {
	name string
	fn   func(context.Context) error
}

type closer struct {
	name string
	fn   func(context.Context) error
}

// GRPCAddr is the address the gRPC server listens on (useful with port 0).
func (rt *Runtime) GRPCAddr() net.Addr { return addrOf(rt.grpcLis) }

// HTTPAddr is the address of /metrics, /healthz and /readyz.
func (rt *Runtime) HTTPAddr() net.Addr { return addrOf(rt.httpLis) }

func addrOf(l net.Listener) net.Addr {
	if l == nil {
		return nil
	}
	return l.Addr()
}

// AddReadiness registers a check behind /readyz.
func (rt *Runtime) AddReadiness(name string, check func(context.Context) error) {
	rt.Readiness.Add(name, check)
}

// Go runs fn (a consumer, a poller) alongside the servers once the run hook
// returns; call it from the run hook (later calls are logged and ignored). Its ctx ends when shutdown begins: fn should then finish the unit
// of work in hand (the batch being applied; use context.WithoutCancel for
// it) and return. Shutdown waits for it within the deadline. An error from
// fn shuts the whole service down and makes the process exit non-zero.
func (rt *Runtime) Go(name string, fn func(ctx context.Context) error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.started {
		rt.Logger.Error("Runtime.Go called after start-up; worker not run", "worker", name)
		return
	}
	rt.workers = append(rt.workers, worker{name, fn})
}

// OnShutdown registers fn to run after the servers and workers stopped;
// closers run in reverse registration order.
func (rt *Runtime) OnShutdown(name string, fn func(context.Context) error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.closers = append(rt.closers, closer{name, fn})
}

// ConnectNATS returns the service's NATS connection, connecting on first
// use: named after the service and host, reconnecting forever, with
// NATS_CREDS when set. If the server is down the connection keeps trying in
// the background and readiness ("nats") reports it. It is drained at
// shutdown, after the workers stopped.
func (rt *Runtime) ConnectNATS(ctx context.Context) (*nats.Conn, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.nc != nil {
		return rt.nc, nil
	}
	host, _ := os.Hostname()
	closed := make(chan struct{})
	log := rt.Logger.With("component", "nats")
	opts := []nats.Option{
		nats.Name(fmt.Sprintf("kesu-%s@%s", rt.Name, host)),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Error("nats async error", "subject", subj, "err", err)
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
	}
	if rt.Config.NATSCreds != "" {
		opts = append(opts, nats.UserCredentials(rt.Config.NATSCreds))
	}
	nc, err := nats.Connect(rt.Config.NATSURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats connect %s: %w", rt.Config.NATSURL, err)
	}
	rt.nc = nc
	rt.Readiness.Add("nats", func(context.Context) error {
		if s := nc.Status(); s != nats.CONNECTED {
			return fmt.Errorf("%s", s)
		}
		return nil
	})
	rt.closers = append(rt.closers, closer{"nats", func(ctx context.Context) error {
		// Drain lets subscriptions deliver what they hold and flushes
		// pending publishes before closing; without a server there is
		// nothing to drain to.
		if nc.Status() != nats.CONNECTED {
			nc.Close()
			return nil
		}
		if err := nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			nc.Close()
			return err
		}
		select {
		case <-closed:
			return nil
		case <-ctx.Done():
			nc.Close()
			return ctx.Err()
		}
	}})
	return nc, nil
}

// DefaultPoolSize is the connection pool size when DATABASE_URL sets none.
const DefaultPoolSize = 16

// OpenPostgres returns the service's connection pool on DATABASE_URL,
// opening it on first use. It sets no search_path: services qualify their
// schema's names. Connections are made lazily, so a database that is down
// shows in readiness ("postgres") rather than failing start-up. The pool is
// closed at shutdown.
func (rt *Runtime) OpenPostgres(ctx context.Context) (*pgxpool.Pool, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.pool != nil {
		return rt.pool, nil
	}
	cfg, err := pgxpool.ParseConfig(rt.Config.DatabaseURL)
	if err != nil {
		return nil, errors.New("postgres: DATABASE_URL is not a valid connection string")
	}
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	if _, set := cfg.ConnConfig.RuntimeParams["application_name"]; !set {
		cfg.ConnConfig.RuntimeParams["application_name"] = "kesu-" + rt.Name
	}
	// pgx's default is max(4, cores) connections: a service answering 64
	// concurrent calls, each needing one short round trip, queues behind four.
	// pool_max_conns in DATABASE_URL still wins.
	if !strings.Contains(rt.Config.DatabaseURL, "pool_max_conns") {
		cfg.MaxConns = DefaultPoolSize
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open pool: %w", err)
	}
	rt.pool = pool
	rt.Readiness.Add("postgres", pool.Ping)
	rt.closers = append(rt.closers, closer{"postgres", func(context.Context) error { pool.Close(); return nil }})
	return pool, nil
}

// closeAll runs the closers in reverse order within ctx.
func (rt *Runtime) closeAll(ctx context.Context) error {
	rt.mu.Lock()
	closers := rt.closers
	rt.closers = nil
	rt.mu.Unlock()
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i].fn(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", closers[i].name, err))
		}
	}
	return errors.Join(errs...)
}
