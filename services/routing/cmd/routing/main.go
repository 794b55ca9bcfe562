// Command routing places complaints in queues and runs the agents' work:
// assignment, claims, transfers, responses, promises, remedies, resolution
// (DESIGN.md §7).
package main

import (
	"github.com/kesu315/kesu/services/kit/service"
	"github.com/kesu315/kesu/services/routing/internal/adapters"
)

func main() {
	service.Main("routing", adapters.Run,
		service.WithMigrate(adapters.MigrateHook),
		service.WithPolicy(adapters.Policy()))
}
