// Command reporting builds the season metrics and the 315 aftermath report,
// and owns the bi views (DESIGN §7). It only reads the event streams.
package main

import (
	"github.com/kesu315/kesu/services/kit/service"
	"github.com/kesu315/kesu/services/reporting/internal/adapters"
)

func main() {
	service.Main("reporting", adapters.Run,
		service.WithMigrate(adapters.MigrateHook),
		service.WithPolicy(adapters.Policy()))
}
