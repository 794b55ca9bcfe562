package service_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/kesu315/kesu/services/kit/natsembed"
	"github.com/kesu315/kesu/services/kit/natstest"
	"github.com/kesu315/kesu/services/kit/pgtest"
	"github.com/kesu315/kesu/services/kit/service"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func baseEnv(natsURL, dbURL string) map[string]string {
	return map[string]string{
		"KESU_GRPC_ADDR": "127.0.0.1:0",
		"KESU_HTTP_ADDR": "127.0.0.1:0",
		"NATS_URL":       natsURL,
		"DATABASE_URL":   dbURL,
		"KESU_LOG_LEVEL": "debug",
	}
}

func noop(context.Context, *service.Runtime) error { return nil }

func TestCommandLineAndConfigErrors(t *testing.T) {
	ctx := testContext(t)
	okEnv := map[string]string{"DATABASE_URL": "postgres://kesu@127.0.0.1:1/kesu"}
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stdout string
		errMsg string
	}{
		{name: "help", args: []string{"help"}, env: okEnv, code: 0, stdout: "usage: routing [serve|migrate]"},
		{name: "unknown command", args: []string{"frobnicate"}, env: okEnv, code: service.ExitUsage, errMsg: `unknown command "frobnicate"`},
		{name: "extra arguments", args: []string{"serve", "now"}, env: okEnv, code: service.ExitUsage, errMsg: `unexpected arguments after "serve"`},
		{name: "config error names the variable", args: nil, env: map[string]string{"KESU_STREAM_REPLICAS": "nine"}, code: service.ExitUsage,
			errMsg: `DATABASE_URL="": required`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			err := service.Run(ctx, "routing", service.Env{Args: tt.args, Getenv: envOf(tt.env), Stdout: &stdout, Stderr: &stderr}, noop)
			if got := service.ExitCode(err); got != tt.code {
				t.Fatalf("exit code %d (%v), want %d", got, err, tt.code)
			}
			if tt.errMsg != "" && (err == nil || !strings.Contains(err.Error(), tt.errMsg)) {
				t.Errorf("error %v lacks %q", err, tt.errMsg)
			}
			if tt.stdout != "" && !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout %q lacks %q", stdout.String(), tt.stdout)
			}
		})
	}
}

func get(t *testing.T, ctx context.Context, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// pollUntil polls cond until it holds or ctx ends.
func pollUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

var migrations = fstest.MapFS{
	"0001_init.sql": {Data: []byte(`CREATE TABLE drained (worker text PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());`)},
}

func TestServeLifecycle(t *testing.T) {
	ctx := testContext(t)
	ns := natstest.StartServer(t)
	dbURL := pgtest.NewDBURL(t)

	type addrs struct{ grpc, http string }
	started := make(chan addrs, 1)
	run := func(ctx context.Context, rt *service.Runtime) error {
		if _, err := rt.ConnectNATS(ctx); err != nil {
			return err
		}
		pool, err := rt.OpenPostgres(ctx)
		if err != nil {
			return err
		}
		rt.Go("projector", func(ctx context.Context) error {
			<-ctx.Done()
			// Shutdown began: finish the batch in hand, on a context that
			// shutdown does not cancel.
			_, err := pool.Exec(context.WithoutCancel(ctx), `INSERT INTO svctest.drained (worker) VALUES ('projector')`)
			return err
		})
		started <- addrs{rt.GRPCAddr().String(), rt.HTTPAddr().String()}
		return nil
	}
	logs := &syncBuffer{}
	svcCtx, stop := context.WithCancel(ctx)
	defer stop()
	result := make(chan error, 1)
	go func() {
		result <- service.Run(svcCtx, "routing", service.Env{Getenv: envOf(baseEnv(ns.URL, dbURL)), Stdout: logs, Stderr: logs},
			run, service.WithMigrations("svctest", migrations))
	}()
	var a addrs
	select {
	case a = <-started:
	case err := <-result:
		t.Fatalf("Run returned before serving: %v\n%s", err, logs)
	case <-ctx.Done():
		t.Fatal("service did not start")
	}

	conn, err := grpc.NewClient(a.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pollUntil(t, ctx, "gRPC health SERVING", func() bool {
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
	})

	base := "http://" + a.http
	if code, _ := get(t, ctx, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	pollUntil(t, ctx, "/readyz 200", func() bool { code, _ := get(t, ctx, base+"/readyz"); return code == http.StatusOK })
	if _, body := get(t, ctx, base+"/readyz"); !strings.Contains(body, "nats: ok") || !strings.Contains(body, "postgres: ok") {
		t.Errorf("/readyz body %q: want nats and postgres checks", body)
	}
	if code, body := get(t, ctx, base+"/metrics"); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics = %d, missing runtime metrics", code)
	}

	// NATS goes away: readiness notices, liveness does not.
	natsembed.Stop(ns.Srv)
	pollUntil(t, ctx, "/readyz 503 with NATS down", func() bool {
		code, body := get(t, ctx, base+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "nats: ") && !strings.Contains(body, "nats: ok")
	})
	if code, _ := get(t, ctx, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d with NATS down, want 200", code)
	}

	stop() // SIGTERM
	select {
	case err := <-result:
		if err != nil {
			t.Fatalf("Run after shutdown = %v, want nil\n%s", err, logs)
		}
	case <-ctx.Done():
		t.Fatal("Run did not return after shutdown")
	}

	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM svctest.drained WHERE worker = 'projector'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("worker's final batch rows = %d, %v: shutdown did not wait for the worker", n, err)
	}
	out := logs.String()
	for _, want := range []string{`"msg":"serving"`, `"service":"routing"`, `"msg":"shutting down"`, `"msg":"stopped"`, "KESU_AUTH_HMAC_KEY unset"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s", want)
		}
	}
	if strings.Contains(out, dbURL) {
		t.Error("logs print DATABASE_URL")
	}
}

func TestWorkerFailureStopsTheService(t *testing.T) {
	ctx := testContext(t)
	ns := natstest.StartServer(t)
	dbURL := pgtest.NewDBURL(t)
	boom := errors.New("stream COMPLAINTS not found")
	run := func(ctx context.Context, rt *service.Runtime) error {
		rt.Go("projector", func(context.Context) error { return boom })
		return nil
	}
	err := service.Run(ctx, "escalation", service.Env{Getenv: envOf(baseEnv(ns.URL, dbURL)), Stdout: io.Discard, Stderr: io.Discard}, run)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "projector") || service.ExitCode(err) != service.ExitFailure {
		t.Fatalf("Run = %v (exit %d), want the worker's error naming it, exit 1", err, service.ExitCode(err))
	}
}

func TestShutdownDeadlineNamesStragglers(t *testing.T) {
	ctx := testContext(t)
	ns := natstest.StartServer(t)
	dbURL := pgtest.NewDBURL(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	run := func(ctx context.Context, rt *service.Runtime) error {
		rt.Go("stuck-poller", func(context.Context) error { <-release; return nil })
		rt.Go("bad-worker", func(context.Context) error { return errors.New("boom") })
		return nil
	}
	err := service.Run(ctx, "followup", service.Env{Getenv: envOf(baseEnv(ns.URL, dbURL)), Stdout: io.Discard, Stderr: io.Discard},
		run, service.WithShutdownTimeout(100*time.Millisecond))
	if !errors.Is(err, service.ErrShutdownTimeout) || !strings.Contains(err.Error(), "stuck-poller") || !strings.Contains(err.Error(), "bad-worker: boom") {
		t.Fatalf("Run = %v, want the cause (bad-worker) and ErrShutdownTimeout naming stuck-poller", err)
	}
}

func TestMigrateCommand(t *testing.T) {
	ctx := testContext(t)
	dbURL := pgtest.NewDBURL(t)
	called := false
	run := func(context.Context, *service.Runtime) error { called = true; return nil }
	env := service.Env{
		Args:   []string{"migrate"},
		Getenv: envOf(map[string]string{"DATABASE_URL": dbURL, "NATS_URL": "nats://127.0.0.1:1"}),
		Stdout: io.Discard, Stderr: io.Discard,
	}
	for range 2 { // idempotent
		if err := service.Run(ctx, "reporting", env, run, service.WithMigrations("svctest", migrations)); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	if called {
		t.Error("migrate ran the serve hook")
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('svctest.drained') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		t.Fatalf("table from the migration exists = %v, %v", exists, err)
	}

	bad := fstest.MapFS{"0001_init.sql": {Data: []byte(`CREATE TABLE oops (`)}}
	err = service.Run(ctx, "reporting", env, run, service.WithMigrations("svcbad", bad))
	if err == nil || service.ExitCode(err) != service.ExitFailure || !strings.Contains(err.Error(), "0001_init.sql") {
		t.Fatalf("broken migration: %v, want exit 1 naming the file", err)
	}
}
