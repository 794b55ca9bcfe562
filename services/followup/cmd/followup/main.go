// Command followup schedules follow-up calls (回访) after resolution, records
// satisfaction (API and inbound surveys), reopens and closes complaints, and
// runs the aftermath sweep (DESIGN.md §7, docs/followup.md).
package main

import (
	"github.com/kesu315/kesu/services/followup/internal/adapters"
	"github.com/kesu315/kesu/services/kit/service"
)

func main() {
	service.Main("followup", adapters.Run,
		service.WithMigrate(adapters.MigrateHook),
		service.WithPolicy(adapters.Policy()))
}
