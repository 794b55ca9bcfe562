// Command escalation runs the SLA clocks: deadlines, warnings, breaches, the escalation ladder and war-room alerts (DESIGN §7).
// For now it serves gRPC health, metrics and readiness on NATS and Postgres.
package main

import (
	"context"

	"github.com/kesu315/kesu/services/escalation/internal/adapters/postgres/migrations"
	"github.com/kesu315/kesu/services/kit/service"
)

func main() {
	service.Main("escalation", run, service.WithMigrations(migrations.Schema, migrations.FS()))
}

func run(ctx context.Context, rt *service.Runtime) error {
	if _, err := rt.ConnectNATS(ctx); err != nil {
		return err
	}
	_, err := rt.OpenPostgres(ctx)
	return err
}
