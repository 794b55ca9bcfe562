package adapters

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/migrate"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/services/kit/projection"
	"github.com/kesu315/kesu/services/kit/service"
	"github.com/kesu315/kesu/services/reporting/internal/adapters/postgres/migrations"
	"github.com/kesu315/kesu/services/reporting/internal/app"
	"github.com/kesu315/kesu/services/reporting/internal/domain"
	"github.com/kesu315/kesu/services/reporting/internal/ports"
)

// Policy is reporting's gRPC role allow-list.
func Policy() auth.Policy {
	p := auth.Policy{}
	for m, roles := range ports.MethodRoles {
		p[m] = roles
	}
	return p
}

// Migrate applies reporting's migrations (the reporting schema, the bi views and role).
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return migrate.Apply(ctx, pool, migrations.Schema, migrations.FS())
}

// MigrateHook applies the migrations for the `migrate` subcommand and start-up.
func MigrateHook(ctx context.Context, rt *service.Runtime) error {
	pool, err := rt.OpenPostgres(ctx)
	if err != nil {
		return err
	}
	return Migrate(ctx, pool)
}

// Run wires reporting: the season projection worker and the report API.
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
	pool, err := rt.OpenPostgres(ctx)
	if err != nil {
		return err
	}
	svc := app.New(NewStore(pool), pol, rt.Clock)
	ports.Register(rt.GRPC, svc, pol, rt.Logger)
	runner, err := projection.New(pool, js, NewProjection(domain.PolicyPlacer{Policy: pol}), projection.Config{
		Name: ProjectionName, Schema: Schema, Logger: rt.Logger, MeterProvider: rt.Telemetry.Meter,
	})
	if err != nil {
		return err
	}
	rt.Go("projection "+ProjectionName, runner.Run)
	return nil
}
