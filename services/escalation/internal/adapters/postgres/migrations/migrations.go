// Package migrations holds the escalation service's versioned SQL migrations for
// its "escalation" schema, applied by kit/migrate at start-up and by `escalation migrate`.
package migrations

import (
	"embed"
	"io/fs"
)

// Schema is the PostgreSQL schema the escalation service owns.
const Schema = "escalation"

//go:embed *.sql
var files embed.FS

// FS returns the migration files (NNNN_name.sql).
func FS() fs.FS { return files }
