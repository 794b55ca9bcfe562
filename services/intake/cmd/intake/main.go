// Command intake is where complaints enter Kesu (DESIGN.md §7).
package main

import (
	"github.com/kesu315/kesu/services/intake/internal/adapters"
	"github.com/kesu315/kesu/services/kit/service"
)

func main() {
	service.Main("intake", adapters.Run,
		service.WithMigrate(adapters.MigrateHook),
		service.WithPolicy(adapters.Policy()))
}
