// Package migrations holds the followup service's versioned SQL migrations for
// its "followup" schema, applied by kit/migrate at start-up and by `followup migrate`.
package migrations

import (
	"embed"
	"io/fs"
)

// Schema is the PostgreSQL schema the followup service owns.
const Schema = "followup"

//go:embed *.sql
var files embed.FS

// FS returns the migration files (NNNN_name.sql).
func FS() fs.FS { return files }
