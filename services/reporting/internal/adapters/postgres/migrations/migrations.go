// Package migrations holds the reporting service's versioned SQL migrations for
// its "reporting" schema, applied by kit/migrate at start-up and by `reporting migrate`.
package migrations

import (
	"embed"
	"io/fs"
)

// Schema is the PostgreSQL schema the reporting service owns.
const Schema = "reporting"

//go:embed *.sql
var files embed.FS

// FS returns the migration files (NNNN_name.sql).
func FS() fs.FS { return files }
