package adapters

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/migrate"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/services/kit/projection"
	"github.com/kesu315/kesu/services/kit/service"
	"github.com/kesu315/kesu/services/routing/internal/adapters/postgres/migrations"
	"github.com/kesu315/kesu/services/routing/internal/app"
	"github.com/kesu315/kesu/services/routing/internal/ports"
)

// Policy is routing's gRPC role allow-list.
func Policy() auth.Policy {
	p := auth.Policy{}
	for m, roles := range ports.MethodRoles {
		p[m] = roles
	}
	return p
}

// Migrate applies routing's migrations.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return migrate.Apply(ctx, pool, migrations.Schema, migrations.FS())
}

// MigrateHook applies routing's migrations (the `migrate` subcommand and start-up).
func MigrateHook(ctx context.Context, rt *service.Runtime) error {
	pool, err := rt.OpenPostgres(ctx)
	if err != nil {
		return err
	}
	return Migrate(ctx, pool)
}

// Run wires routing into the runtime: the store, the roster seeded from the
// policy file, the app, the gRPC API, the projection with its reactor and
// the offline sweeper.
func Run(ctx context.Context, rt *service.Runtime) error {
	cfg := rt.Config
	pol, err := policy.Load(cfg.PolicyPath)
	if err != nil {
		return err
	}
	nc, err := rt.ConnectNATS(ctx)
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	// Create the streams only when missing: this service's NATS user may not
	// change stream configuration in production (the stream-setup job owns it).
	if err := eventstore.EnsureMissing(ctx, js, eventstore.Config{Replicas: cfg.StreamReplicas, MaxBytes: cfg.StreamMaxBytes}); err != nil {
		return err
	}
	store, err := eventstore.New(nc, js, eventstore.StoreOptions{})
	if err != nil {
		return err
	}
	pool, err := rt.OpenPostgres(ctx)
	if err != nil {
		return err
	}
	roster := NewRoster(pool)
	svc, err := app.New(app.Deps{Store: store, Roster: roster, Views: NewReader(pool), Clock: rt.Clock, Policy: pol,
		StatsMaxAge: time.Second})
	if err != nil {
		return err
	}
	if err := svc.SeedRoster(ctx); err != nil {
		return err
	}
	ports.Register(rt.GRPC, svc, rt.Logger)
	proj := NewProjection(pol, svc, roster, rt.Logger)
	if err := proj.SetMeterProvider(rt.Telemetry.Meter); err != nil {
		return err
	}
	runner, err := projection.New(pool, js, proj, projection.Config{
		Name: ProjectionName, Schema: Schema, Logger: rt.Logger, MeterProvider: rt.Telemetry.Meter,
	})
	if err != nil {
		return err
	}
	rt.Go("projection "+ProjectionName, runner.Run)
	if err := RegisterQueueMetrics(rt.Telemetry.Meter, pool); err != nil {
		return err
	}
	rt.Go("offline sweeper", func(ctx context.Context) error { return svc.RunSweeper(ctx, rt.Logger) })
	return nil
}
