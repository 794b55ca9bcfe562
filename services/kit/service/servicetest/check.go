package servicetest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/kesu315/kesu/services/kit/natstest"
	"github.com/kesu315/kesu/services/kit/pgtest"
)

// CheckBinary is the deployment contract every service binary passes, as
// Kubernetes will run it: built from the main package in the current
// directory and given only environment configuration (a real NATS server, a
// fresh database, plus extra), `migrate` records schema's migrations and
// exits 0; `serve` answers the gRPC health check without a token, reports
// ready on /readyz, and exits 0 on SIGTERM within its grace period. The
// calling test binary must run pgtest.Main.
func CheckBinary(t *testing.T, schema string, extra map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := Build(t, ".")
	ns := natstest.StartServer(t)
	env := map[string]string{
		"KESU_GRPC_ADDR": "127.0.0.1:0",
		"KESU_HTTP_ADDR": "127.0.0.1:0",
		"NATS_URL":       ns.URL,
		"DATABASE_URL":   pgtest.NewDBURL(t),
	}
	for k, v := range extra {
		env[k] = v
	}

	if code, out := Exec(t, ctx, bin, env, "migrate"); code != 0 {
		t.Fatalf("%s migrate exited %d:\n%s", schema, code, out)
	}
	pool, err := pgxpool.New(ctx, env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var applied int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.schema_migrations`).Scan(&applied); err != nil || applied == 0 {
		t.Fatalf("schema %s after migrate: %d migrations applied, %v", schema, applied, err)
	}

	p := Start(t, bin, env)
	for _, svc := range []string{"", "grpc.health.v1.Health"} {
		st, err := Health(ctx, p.GRPCAddr, svc)
		if err != nil || st != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("gRPC health %q = %v, %v; want SERVING\n%s", svc, st, err, p.Logs())
		}
	}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.HTTPAddr+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("/readyz: %v\n%s", err, p.Logs())
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("/readyz never became 200 (last %d)\n%s", resp.StatusCode, p.Logs())
		case <-time.After(50 * time.Millisecond):
		}
	}

	if code := p.Stop(t, ctx); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0\n%s", code, p.Logs())
	}
}
