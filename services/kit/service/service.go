// Package service is the shared main of every Kesu service binary:
//
//	func main() {
//		service.Main("routing", run, service.WithMigrations("routing", migrations.FS()))
//	}
//
// It reads the runtime configuration from the environment, sets up logging
// and telemetry, runs `serve` (the default: migrate, then the run hook,
// then the gRPC and HTTP servers and the hook's workers in an errgroup) or
// `migrate`, and shuts down gracefully on SIGINT/SIGTERM.
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	"golang.org/x/sync/errgroup"

	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/grpcserver"
	"github.com/kesu315/kesu/services/kit/logging"
	"github.com/kesu315/kesu/services/kit/migrate"
	"github.com/kesu315/kesu/services/kit/runtimeconfig"
	"github.com/kesu315/kesu/services/kit/telemetry"
)

// DefaultShutdownTimeout leaves headroom under Kubernetes' default 30 s
// termination grace period.
const DefaultShutdownTimeout = 25 * time.Second

// RunFunc is a service hook. The run hook registers gRPC services and
// workers (rt.Go) and returns; it must not block.
type RunFunc func(ctx context.Context, rt *Runtime) error

// Option configures Main and Run.
type Option func(*options)

type options struct {
	migrate         RunFunc
	policy          auth.Policy
	version         string
	shutdownTimeout time.Duration
}

// WithMigrate sets the hook of the `migrate` subcommand; `serve` runs it
// too before the run hook (DESIGN §4: migrations at start-up).
func WithMigrate(fn RunFunc) Option { return func(o *options) { o.migrate = fn } }

// WithMigrations is WithMigrate applying the NNNN_name.sql files of fsys to
// schema with migrate.Apply.
func WithMigrations(schema string, fsys fs.FS) Option {
	return WithMigrate(func(ctx context.Context, rt *Runtime) error {
		pool, err := rt.OpenPostgres(ctx)
		if err != nil {
			return err
		}
		return migrate.Apply(ctx, pool, schema, fsys)
	})
}

// WithPolicy sets the gRPC role allow-list. Without it every method except
// health and reflection is refused.
func WithPolicy(p auth.Policy) Option { return func(o *options) { o.policy = p } }

// WithVersion overrides the version read from the build info.
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// WithShutdownTimeout bounds the graceful shutdown (default 25 s).
func WithShutdownTimeout(d time.Duration) Option {
	return func(o *options) { o.shutdownTimeout = d }
}

// Env is the process environment Run works in.
type Env struct {
	Args   []string // after the program name
	Getenv func(string) string
	Stdout io.Writer // logs
	Stderr io.Writer // usage and fatal errors
}

// Main runs the service named name as the process: it stops on SIGINT or
// SIGTERM and exits 0 after a clean shutdown, 2 on a usage or configuration
// error, 1 on any other failure, printing the error to stderr.
func Main(name string, run RunFunc, opts ...Option) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, name, Env{Args: os.Args[1:], Getenv: os.Getenv, Stdout: os.Stdout, Stderr: os.Stderr}, run, opts...)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	}
	os.Exit(ExitCode(err))
}

func usage(name string) string {
	return fmt.Sprintf(`usage: %[1]s [serve|migrate]

  serve    (default) apply migrations, then serve gRPC on KESU_GRPC_ADDR and
           /metrics, /healthz, /readyz on KESU_HTTP_ADDR until SIGTERM
  migrate  apply %[1]s's database migrations and exit

Configuration comes from the environment: KESU_ENV, KESU_GRPC_ADDR,
KESU_HTTP_ADDR, NATS_URL, NATS_CREDS, DATABASE_URL (required), KESU_POLICY,
KESU_STREAM_REPLICAS, KESU_STREAM_MAX_BYTES, KESU_AUTH_*, KESU_CLOCK_*,
KESU_PII_KEK, KESU_LOG_LEVEL and the standard OTEL_* variables.
`, name)
}

// Run is Main without the process: it returns when ctx ends (after a
// graceful shutdown) or on failure. Errors carry their exit code (ExitCode).
func Run(ctx context.Context, name string, env Env, run RunFunc, opts ...Option) error {
	o := options{shutdownTimeout: DefaultShutdownTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if o.version == "" {
		o.version = buildVersion()
	}

	cmd := "serve"
	if len(env.Args) > 0 {
		cmd = env.Args[0]
	}
	switch {
	case cmd == "help" || cmd == "-h" || cmd == "--help":
		_, _ = io.WriteString(env.Stdout, usage(name))
		return nil
	case len(env.Args) > 1:
		_, _ = io.WriteString(env.Stderr, usage(name))
		return usageError("unexpected arguments after %q: %q", cmd, env.Args[1:])
	case cmd != "serve" && cmd != "migrate":
		_, _ = io.WriteString(env.Stderr, usage(name))
		return usageError("unknown command %q", cmd)
	}

	cfg, err := runtimeconfig.Load(name, env.Getenv)
	if err != nil {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("configuration:\n%w", err)}
	}
	log := logging.New(env.Stdout, name, cfg.LogLevel)
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	verifier, err := auth.NewVerifier(auth.Config{
		HMACKey: cfg.Auth.HMACKey, JWKSURL: cfg.Auth.JWKSURL,
		Issuer: cfg.Auth.Issuer, Audience: cfg.Auth.Audience,
	})
	if err != nil {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("configuration: %w", err)}
	}
	rt := &Runtime{
		Name: name, Version: o.version, Config: cfg, Logger: log,
		Clock: cfg.Clock.Clock(), Verifier: verifier, Readiness: telemetry.NewReadiness(),
	}

	if cmd == "migrate" {
		return runMigrate(ctx, rt, o)
	}
	return serve(ctx, rt, run, o)
}

func runMigrate(ctx context.Context, rt *Runtime, o options) error {
	defer closeWithin(rt, o.shutdownTimeout)
	if o.migrate == nil {
		rt.Logger.Info("no migrations for this service")
		return nil
	}
	rt.Logger.Info("applying migrations")
	if err := o.migrate(ctx, rt); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	rt.Logger.Info("migrations applied")
	return nil
}

// closeWithin closes the runtime's connections. Failures are logged, not
// returned: the work is done by then, and a NATS that is down cannot be
// drained anyway.
func closeWithin(rt *Runtime, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := rt.closeAll(ctx); err != nil {
		rt.Logger.Warn("closing connections", "err", err)
	}
}

func serve(ctx context.Context, rt *Runtime, run RunFunc, o options) error {
	cfg, log := rt.Config, rt.Logger

	tel, err := telemetry.Setup(ctx, rt.Name, rt.Version)
	if err != nil {
		return &ExitError{Code: ExitUsage, Err: err}
	}
	rt.Telemetry = tel
	// Third-party instrumentation (and code that asks otel for "the"
	// provider) finds ours; this is the process entry point, the one place
	// allowed to set process-wide state.
	otel.SetTracerProvider(tel.Tracer)
	otel.SetMeterProvider(tel.Meter)
	otel.SetTextMapPropagator(tel.Propagator)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if serr := tel.Shutdown(ctx); serr != nil {
			log.Warn("telemetry shutdown", "err", serr)
		}
	}()
	// Deferred before the servers start, so it runs after they stopped.
	defer closeWithin(rt, o.shutdownTimeout)

	authz, err := auth.NewAuthorizer(rt.Verifier, o.policy)
	if err != nil {
		return err
	}
	rt.GRPC, err = grpcserver.New(grpcserver.Options{
		Logger: log, Authorizer: authz,
		TracerProvider: tel.Tracer, MeterProvider: tel.Meter, Propagator: tel.Propagator,
	})
	if err != nil {
		return err
	}

	var lc net.ListenConfig
	if rt.grpcLis, err = lc.Listen(ctx, "tcp", cfg.GRPCAddr); err != nil {
		return fmt.Errorf("gRPC listen %s: %w", cfg.GRPCAddr, err)
	}
	defer rt.grpcLis.Close()
	if rt.httpLis, err = lc.Listen(ctx, "tcp", cfg.HTTPAddr); err != nil {
		return fmt.Errorf("HTTP listen %s: %w", cfg.HTTPAddr, err)
	}
	defer rt.httpLis.Close()

	if o.migrate != nil {
		if err := o.migrate(ctx, rt); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	if err := run(ctx, rt); err != nil {
		return fmt.Errorf("start: %w", err)
	}

	log.Info("serving",
		"version", rt.Version, "env", cfg.Env, "grpc", rt.GRPCAddr().String(), "http", rt.HTTPAddr().String(),
		"clock", cfg.Clock.String(), "traces_exported", tel.Exporting)

	g, gctx := errgroup.WithContext(ctx)
	httpSrv := &http.Server{
		Handler:           telemetry.NewMux(tel.MetricsHandler(), rt.Readiness),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// The HTTP server runs outside the group: it must keep answering
	// /readyz (503 while draining) until everything in the group stopped.
	httpErr := make(chan error, 1)
	go func() { httpErr <- httpSrv.Serve(rt.httpLis) }()
	g.Go(func() error {
		select {
		case <-gctx.Done():
			return nil
		case err := <-httpErr:
			return fmt.Errorf("HTTP serve %s: %w", rt.HTTPAddr(), err)
		}
	})
	var (
		running  sync.Map // component name → struct{}, to name stragglers
		firstErr error    // what brought the group down, if anything
		errOnce  sync.Once
	)
	track := func(name string, fn func() error) {
		running.Store(name, struct{}{})
		g.Go(func() error {
			defer running.Delete(name)
			err := fn()
			if err != nil {
				errOnce.Do(func() { firstErr = err })
			}
			return err
		})
	}
	track("grpc", func() error { return rt.GRPC.Serve(gctx, rt.grpcLis) })
	rt.mu.Lock()
	workers := rt.workers
	rt.started = true
	rt.mu.Unlock()
	for _, w := range workers {
		track(w.name, func() error {
			if err := w.fn(gctx); err != nil && !(errors.Is(err, context.Canceled) && gctx.Err() != nil) {
				return fmt.Errorf("%s: %w", w.name, err)
			}
			return nil
		})
	}
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()

	// gctx ends on SIGTERM or when any component fails.
	<-gctx.Done()
	// Fail /readyz first so load balancers stop routing here while the
	// servers and workers drain.
	rt.Readiness.SetDraining()
	if ctx.Err() != nil {
		log.Info("shutting down", "deadline", o.shutdownTimeout)
	}
	t := time.NewTimer(o.shutdownTimeout)
	defer t.Stop()
	var runErr error
	select {
	case runErr = <-done:
	case <-t.C:
		var names []string
		running.Range(func(k, _ any) bool { names = append(names, k.(string)); return true })
		slices.Sort(names)
		runErr = fmt.Errorf("%w after %s: %s", ErrShutdownTimeout, o.shutdownTimeout, strings.Join(names, ", "))
		errOnce.Do(func() {}) // no later writes to firstErr
		runErr = errors.Join(firstErr, runErr)
	}
	stopHTTP(httpSrv, log)
	if runErr != nil {
		log.Error("stopped with an error", "err", runErr)
		return runErr
	}
	log.Info("stopped")
	return nil
}

func stopHTTP(s *http.Server, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		log.Warn("HTTP shutdown", "err", err)
		_ = s.Close()
	}
}

// Version is the release a binary reports in its logs and telemetry. Images
// set it at link time (build/Dockerfile):
//
//	go build -ldflags "-X github.com/kesu315/kesu/services/kit/service.Version=1.4.0"
//
// Empty, the module version and VCS revision from the build info are used.
var Version string

func buildVersion() string {
	if Version != "" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			rev := s.Value[:12]
			if v == "" || v == "(devel)" {
				return rev
			}
			return v + "+" + rev
		}
	}
	if v == "" {
		return "(devel)"
	}
	return v
}
