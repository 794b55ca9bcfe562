package pgcluster

import "errors"

var (
	// ErrBinariesNotFound means initdb/pg_ctl/postgres could not be located.
	ErrBinariesNotFound = errors.New("PostgreSQL binaries not found")
	// ErrNoPostgresUser means the process runs as root (which PostgreSQL
	// refuses) and there is no postgres system user to run it as instead.
	ErrNoPostgresUser = errors.New("running as root and no postgres system user")
	// ErrNotSearchable means the user that runs PostgreSQL cannot reach the
	// cluster directory because a parent directory denies it search (x) permission.
	ErrNotSearchable = errors.New("cluster directory not reachable by the PostgreSQL user")
	// ErrInvalidOptions is wrapped by every validation error of Options.
	ErrInvalidOptions = errors.New("invalid pgcluster options")
	// ErrStartFailed means pg_ctl could not start the server; the error text
	// carries the tail of the server log.
	ErrStartFailed = errors.New("PostgreSQL did not start")
)
