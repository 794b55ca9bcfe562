package projection

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// CopyRows COPYs rows into table (optionally schema-qualified, e.g.
// "routing.queue" or a temp table "stage_queue") within tx, for a
// Rebuilder's Stage. It returns the number of rows copied.
func CopyRows(ctx context.Context, tx pgx.Tx, table string, columns []string, rows [][]any) (int64, error) {
	if table == "" {
		return 0, fmt.Errorf("projection: CopyRows: table is empty")
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier(strings.Split(table, ".")), columns, pgx.CopyFromRows(rows))
	if err != nil {
		return n, fmt.Errorf("projection: copy %d rows into %s: %w", len(rows), table, err)
	}
	return n, nil
}
