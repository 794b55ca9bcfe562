package adapters

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kesu315/kesu/services/followup/internal/app"
	"github.com/kesu315/kesu/services/followup/internal/ports"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/inbound"
	"github.com/kesu315/kesu/services/kit/pii"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/services/kit/projection"
	"github.com/kesu315/kesu/services/kit/service"
)

// Policy is followup's gRPC role allow-list.
func Policy() auth.Policy {
	p := auth.Policy{}
	for m, roles := range ports.MethodRoles {
		p[m] = roles
	}
	return p
}

// Run wires followup into the runtime: streams, store, keys, the app, the
// gRPC API, the projection, the timer poller, the survey consumer and the
// aftermath alerter.
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
	// The streams are not ensured here: intake (single installs) or the
	// chart's stream-setup job makes them, and followup's NATS user may not
	// change stream configuration (deploy/nats/nsc-setup.sh). The workers
	// below retry until the streams exist.
	store, err := eventstore.New(nc, js, eventstore.StoreOptions{})
	if err != nil {
		return err
	}
	pool, err := rt.OpenPostgres(ctx)
	if err != nil {
		return err
	}
	keys, err := pii.NewKeyring(pool, Schema, cfg.PIIKEK, pii.Options{})
	if err != nil {
		return err
	}
	svc, err := app.New(app.Deps{Store: store, Keys: keys, Views: NewReader(pool), Clock: rt.Clock, Policy: pol})
	if err != nil {
		return err
	}
	ports.Register(rt.GRPC, svc, rt.Logger)

	runner, err := projection.New(pool, js, NewProjection(), projection.Config{
		Name: ProjectionName, Schema: Schema, Logger: rt.Logger, MeterProvider: rt.Telemetry.Meter,
	})
	if err != nil {
		return err
	}
	rt.Go("projection "+ProjectionName, runner.Run)

	poller, err := NewPoller(pool, svc, PollerConfig{Clock: rt.Clock, Logger: rt.Logger, MeterProvider: rt.Telemetry.Meter})
	if err != nil {
		return err
	}
	rt.Go("timers", poller.Run)

	surveys, err := NewSurveys(js, svc, inbound.Config{Clock: rt.Clock, Logger: rt.Logger,
		MeterProvider: rt.Telemetry.Meter, TracerProvider: rt.Telemetry.Tracer})
	if err != nil {
		return err
	}
	rt.Go("inbound "+SurveysConsumer, surveys.Run)

	rt.Go("aftermath alerts", NewAftermath(pool, js, svc, pol, rt.Clock, rt.Logger, 0).Run)
	return nil
}

// MigrateHook applies followup's migrations (the `migrate` subcommand and start-up).
func MigrateHook(ctx context.Context, rt *service.Runtime) error {
	pool, err := rt.OpenPostgres(ctx)
	if err != nil {
		return err
	}
	return Migrate(ctx, pool)
}
