package adapters

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kesu315/kesu/services/escalation/internal/adapters/postgres/migrations"
	"github.com/kesu315/kesu/services/escalation/internal/app"
	"github.com/kesu315/kesu/services/escalation/internal/ports"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/migrate"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/services/kit/projection"
	"github.com/kesu315/kesu/services/kit/service"
)

// Policy is escalation's gRPC role allow-list.
func Policy() auth.Policy {
	p := auth.Policy{}
	for m, roles := range ports.MethodRoles {
		p[m] = roles
	}
	return p
}

// Options tune the wiring for tests and benchmarks; the binary uses the zero value.
type Options struct {
	Poller PollerConfig
	Spike  SpikeConfig
	// NoPoller leaves the poller out, so a test drives passes itself.
	NoPoller bool
	// Started, when set, receives the poller once everything is registered.
	Started func(*Poller)
}

// Run wires escalation into the runtime with the default options.
func Run(ctx context.Context, rt *service.Runtime) error { return RunWith(ctx, rt, Options{}) }

// RunWith wires escalation: streams, the clocks projection, the deadline
// poller, the start-up recompute after a policy change, and the gRPC API.
func RunWith(ctx context.Context, rt *service.Runtime, opts Options) error {
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
	clocks := NewClocks(pool, store, rt.Clock)
	svc := app.New(store, clocks, NewAlertFeed(js), pol, rt.Clock)
	ports.Register(rt.GRPC, svc, rt.Logger)

	runner, err := projection.New(pool, js, NewProjection(pol, rt.Clock, opts.Spike), projection.Config{
		Name: ProjectionName, Schema: Schema, Logger: rt.Logger, MeterProvider: rt.Telemetry.Meter,
	})
	if err != nil {
		return err
	}
	rt.Go("projection "+ProjectionName, runner.Run)

	pc := opts.Poller
	if pc.Logger == nil {
		pc.Logger = rt.Logger
	}
	if pc.MeterProvider == nil {
		pc.MeterProvider = rt.Telemetry.Meter
	}
	poller := NewPoller(pool, store, js, pol, rt.Clock, pc)
	if !opts.NoPoller {
		rt.Go("deadline poller", func(ctx context.Context) error {
			// Deadlines computed with another policy are recomputed before
			// they fire; a deadline that passed while we were down fires on
			// the first pass.
			go recomputeAtStart(ctx, rt, clocks, svc)
			return poller.Run(ctx)
		})
	}
	if opts.Started != nil {
		opts.Started(poller)
	}
	return nil
}

// MigrateHook applies escalation's migrations (the `migrate` subcommand and start-up).
func MigrateHook(ctx context.Context, rt *service.Runtime) error {
	pool, err := rt.OpenPostgres(ctx)
	if err != nil {
		return err
	}
	return Migrate(ctx, pool)
}

// Migrate applies escalation's migrations.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return migrate.Apply(ctx, pool, migrations.Schema, migrations.FS())
}

// recomputeAtStart recomputes the open complaints' deadlines when the policy
// changed since they were computed, retrying while the projection catches up.
func recomputeAtStart(ctx context.Context, rt *service.Runtime, clocks *Clocks, svc *app.Service) {
	for round := 0; round < 60 && ctx.Err() == nil; round++ {
		stored, err := clocks.PolicyDigest(ctx)
		if err != nil {
			rt.Logger.Warn("start-up recompute: policy digest", "err", err)
			return
		}
		res, ran, err := svc.RecomputeIfPolicyChanged(ctx, stored)
		switch {
		case err != nil:
			rt.Logger.Warn("start-up recompute failed", "err", err)
			return
		case !ran:
			return
		case res.Skipped == 0:
			rt.Logger.Info("policy changed: deadlines recomputed", "complaints", res.Complaints, "changed", res.Changed, "digest", svc.Policy().Digest)
			return
		}
		rt.Logger.Info("start-up recompute: projection still catching up", "skipped", res.Skipped)
		if clock.SleepUntil(ctx, clock.Wall(), time.Now().Add(5*time.Second)) != nil {
			return
		}
	}
}
