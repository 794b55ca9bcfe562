// Package migrations holds the routing service's versioned SQL migrations for
// its "routing" schema, applied by kit/migrate at start-up and by `routing migrate`.
package migrations

import (
	"embed"
	"io/fs"
)

// Schema is the PostgreSQL schema the routing service owns.
const Schema = "routing"

//go:embed *.sql
var files embed.FS

// FS returns the migration files (NNNN_name.sql).
func FS() fs.FS { return files }
