// Command followup schedules follow-up calls (回访) after resolution, records satisfaction, reopens and closes complaints (DESIGN §7).
// For now it serves gRPC health, metrics and readiness on NATS and Postgres.
package main

import (
	"context"

	"github.com/kesu315/kesu/services/followup/internal/adapters/postgres/migrations"
	"github.com/kesu315/kesu/services/kit/service"
)

func main() {
	service.Main("followup", run, service.WithMigrations(migrations.Schema, migrations.FS()))
}

func run(ctx context.Context, rt *service.Runtime) error {
	if _, err := rt.ConnectNATS(ctx); err != nil {
		return err
	}
	_, err := rt.OpenPostgres(ctx)
	return err
}
