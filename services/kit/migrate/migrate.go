// Package migrate applies a service's versioned SQL migrations to its own
// PostgreSQL schema (DESIGN §4), at start-up or from a `migrate` subcommand.
//
// Files are named NNNN_name.sql (at least four digits, then an underscore
// and a name of letters, digits, '_' or '-') at the root of the given fs.FS;
// other files are ignored. Each file runs in its own transaction, with
// search_path set to the schema (then public) so unqualified names land in
// the service's schema, and is recorded in <schema>.schema_migrations with a
// SHA-256 checksum. Replicas starting together serialise on a
// transaction-scoped advisory lock keyed on the schema, so each file runs
// exactly once.
package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migration is one parsed migration file.
type Migration struct {
	Version  int64
	Name     string // file name, e.g. "0001_init.sql"
	Checksum string // hex SHA-256 of the content
	SQL      string
}

var fileRE = regexp.MustCompile(`^([0-9]{4,18})_([A-Za-z0-9_-]+)\.sql$`)

// Load reads and validates the migration files of fsys, in version order.
func Load(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("migrate: read migrations: %w", err)
	}
	var ms []Migration
	seen := map[int64]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			// An embed.FS keeps its directory: files under migrations/ are
			// not at the root. Applying nothing would look like success.
			if sub, _ := fs.Glob(fsys, name+"/*.sql"); len(sub) > 0 {
				return nil, fmt.Errorf("migrate: the .sql files are in %s/, not at the root: pass fs.Sub(fsys, %q): %w", name, name, ErrNested)
			}
			continue
		}
		if e.IsDir() || len(name) < 4 || name[len(name)-4:] != ".sql" {
			continue
		}
		m := fileRE.FindStringSubmatch(name)
		if m == nil {
			return nil, fmt.Errorf("migrate: %s: %w", name, ErrBadFileName)
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || v == 0 {
			return nil, fmt.Errorf("migrate: %s: version must be a positive number: %w", name, ErrBadFileName)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrate: %s and %s: version %d: %w", other, name, v, ErrDuplicateVersion)
		}
		seen[v] = name
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("migrate: %s: %w", name, err)
		}
		sum := sha256.Sum256(b)
		ms = append(ms, Migration{Version: v, Name: name, Checksum: hex.EncodeToString(sum[:]), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

// Apply creates schema if needed and applies, in version order, every
// migration of fsys not yet recorded in schema.schema_migrations. An applied
// migration whose file content changed is an error naming the file, and
// nothing after it is applied.
func Apply(ctx context.Context, pool *pgxpool.Pool, schema string, fsys fs.FS) error {
	if schema == "" || len(schema) > 63 {
		return fmt.Errorf("migrate: schema %q: must be 1..63 bytes: %w", schema, ErrInvalidSchema)
	}
	ms, err := Load(fsys)
	if err != nil {
		return err
	}
	q := pgx.Identifier{schema}.Sanitize()
	table := q + ".schema_migrations"

	err = inLockedTx(ctx, pool, schema, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+q+`;
CREATE TABLE IF NOT EXISTS `+table+` (
	version    bigint PRIMARY KEY,
	name       text NOT NULL,
	checksum   text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate: create %s: %w", table, err)
	}

	for _, m := range ms {
		err := inLockedTx(ctx, pool, schema, func(tx pgx.Tx) error {
			// Re-read under the lock: another replica may have applied it
			// while we waited.
			var name, sum string
			err := tx.QueryRow(ctx, `SELECT name, checksum FROM `+table+` WHERE version = $1`, m.Version).Scan(&name, &sum)
			switch {
			case err == nil:
				if sum != m.Checksum {
					return fmt.Errorf("%s (applied as %s) no longer matches what was applied (checksum %.12s, now %.12s): %w",
						m.Name, name, sum, m.Checksum, ErrChanged)
				}
				return nil
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
			if _, err := tx.Exec(ctx, `SET LOCAL search_path TO `+q+`, public`); err != nil {
				return err
			}
			// No arguments: the simple protocol, so a file may hold many statements.
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			_, err = tx.Exec(ctx, `INSERT INTO `+table+` (version, name, checksum) VALUES ($1, $2, $3)`, m.Version, m.Name, m.Checksum)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %w", schema, err)
		}
	}
	return nil
}

// Applied lists the migrations recorded in schema, in version order.
func Applied(ctx context.Context, pool *pgxpool.Pool, schema string) ([]Migration, error) {
	rows, err := pool.Query(ctx, `SELECT version, name, checksum FROM `+pgx.Identifier{schema}.Sanitize()+`.schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("migrate: list applied in %s: %w", schema, err)
	}
	ms, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Migration, error) {
		var m Migration
		err := r.Scan(&m.Version, &m.Name, &m.Checksum)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("migrate: list applied in %s: %w", schema, err)
	}
	return ms, nil
}

// inLockedTx runs fn in a transaction holding the schema's migration lock.
func inLockedTx(ctx context.Context, pool *pgxpool.Pool, schema string, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('kesu.migrate.' || $1, 0))`, schema); err != nil {
			return fmt.Errorf("advisory lock: %w", err)
		}
		return fn(tx)
	})
}
