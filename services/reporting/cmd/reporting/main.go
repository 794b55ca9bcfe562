// Command reporting builds the season metrics and the 315 aftermath report, and owns the bi views (DESIGN §7).
// For now it serves gRPC health, metrics and readiness on NATS and Postgres.
package main

import (
	"context"

	"github.com/kesu315/kesu/services/kit/service"
	"github.com/kesu315/kesu/services/reporting/internal/adapters/postgres/migrations"
)

func main() {
	service.Main("reporting", run, service.WithMigrations(migrations.Schema, migrations.FS()))
}

func run(ctx context.Context, rt *service.Runtime) error {
	if _, err := rt.ConnectNATS(ctx); err != nil {
		return err
	}
	_, err := rt.OpenPostgres(ctx)
	return err
}
