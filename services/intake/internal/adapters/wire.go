package adapters

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kesu315/kesu/services/intake/internal/app"
	"github.com/kesu315/kesu/services/intake/internal/ports"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/services/kit/projection"
	"github.com/kesu315/kesu/services/kit/service"
)

// Policy is intake's gRPC role allow-list.
func Policy() auth.Policy {
	p := auth.Policy{}
	for m, roles := range ports.MethodRoles {
		p[m] = roles
	}
	return p
}

// Run wires intake into the runtime: streams, stores, the app, the gRPC API and
// the projection worker. It returns once everything is registered.
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
	// Create or update the streams from config: single installs get them here;
	// in Kubernetes the chart's stream-setup job made them already, and this is
	// then a no-op with the same settings.
	if err := eventstore.EnsureAll(ctx, js, eventstore.Config{Replicas: cfg.StreamReplicas, MaxBytes: cfg.StreamMaxBytes}); err != nil {
		return err
	}
	store, err := eventstore.New(nc, js, eventstore.StoreOptions{})
	if err != nil {
		return err
	}
	requests, err := NewRequestIndex(ctx, js, RequestIndexConfig{Replicas: cfg.StreamReplicas})
	if err != nil {
		return err
	}
	pool, err := rt.OpenPostgres(ctx)
	if err != nil {
		return err
	}
	keys, err := NewKeys(pool, Schema, cfg.PIIKEK)
	if err != nil {
		return err
	}
	svc, err := app.New(app.Deps{
		Store: store, Requests: requests, Filed: NewRequestLog(pool), Keys: keys, Views: NewReader(pool),
		Clock: rt.Clock, Policy: pol, CustomerRefKey: CustomerRefKey(cfg.PIIKEK),
		MeterProvider: rt.Telemetry.Meter,
	})
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

	inbound, err := NewInbound(js, svc, InboundConfig{
		Clock: rt.Clock, Logger: rt.Logger, MeterProvider: rt.Telemetry.Meter, TracerProvider: rt.Telemetry.Tracer,
	})
	if err != nil {
		return err
	}
	rt.Go("inbound "+InboundConsumer, inbound.Run)
	return nil
}

// CustomerRefKey derives the key of the phone → customer ref HMAC from the KEK,
// so one secret serves both and refs stay stable while the KEK does.
func CustomerRefKey(kek []byte) []byte {
	sum := sha256.Sum256(append([]byte("kesu/intake/customer-ref/v1\x00"), kek...))
	return sum[:]
}

// MigrateHook applies intake's migrations (the `migrate` subcommand and start-up).
func MigrateHook(ctx context.Context, rt *service.Runtime) error {
	pool, err := rt.OpenPostgres(ctx)
	if err != nil {
		return err
	}
	return Migrate(ctx, pool)
}
