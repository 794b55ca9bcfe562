// Command routing places complaints in queues and runs the agents' work: assignment, claims, transfers, responses, remedies, resolution (DESIGN §7).
// For now it serves gRPC health, metrics and readiness on NATS and Postgres.
package main

import (
	"context"

	"github.com/kesu315/kesu/services/kit/service"
	"github.com/kesu315/kesu/services/routing/internal/adapters/postgres/migrations"
)

func main() {
	service.Main("routing", run, service.WithMigrations(migrations.Schema, migrations.FS()))
}

func run(ctx context.Context, rt *service.Runtime) error {
	if _, err := rt.ConnectNATS(ctx); err != nil {
		return err
	}
	_, err := rt.OpenPostgres(ctx)
	return err
}
