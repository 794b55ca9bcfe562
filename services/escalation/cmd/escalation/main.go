// Command escalation runs the SLA clocks: deadlines, warnings, breaches, the
// escalation ladder and war-room alerts (DESIGN.md §5, §7).
package main

import (
	"github.com/kesu315/kesu/services/escalation/internal/adapters"
	"github.com/kesu315/kesu/services/kit/service"
)

func main() {
	service.Main("escalation", adapters.Run,
		service.WithMigrate(adapters.MigrateHook),
		service.WithPolicy(adapters.Policy()))
}
