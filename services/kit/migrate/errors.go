package migrate

import "errors"

var (
	// ErrNested is wrapped when the migration files sit in a subdirectory.
	ErrNested = errors.New("migrations in a subdirectory")
	// ErrBadFileName is wrapped when a .sql file is not named NNNN_name.sql.
	ErrBadFileName = errors.New("migration file name must be NNNN_name.sql")
	// ErrDuplicateVersion is wrapped when two files carry the same version.
	ErrDuplicateVersion = errors.New("two migration files share a version")
	// ErrChanged is wrapped when an applied migration's file no longer has
	// the content that was applied: migrations are append-only; add a new file.
	ErrChanged = errors.New("applied migration file was changed")
	// ErrInvalidSchema is wrapped when the schema name is empty or too long.
	ErrInvalidSchema = errors.New("invalid schema name")
)
