package adapters

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kesu315/kesu/services/kit/pgtest"
)

// TestBinaryRowsEqualPgxRows writes the same values once through pgx's
// CopyFrom and once through binaryRows and compares the tables: the rebuild
// equality test compares two paths that both use binaryRows, so only this
// one shows the encoding itself is right.
func TestBinaryRowsEqualPgxRows(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	const cols = "(i int8, u uuid, s text, ts timestamptz, n int4, b bool)"
	for _, tab := range []string{"via_pgx", "via_binary"} {
		if _, err := tx.Exec(ctx, "CREATE TEMP TABLE "+tab+" "+cols); err != nil {
			t.Fatal(err)
		}
	}
	type row struct {
		i  int64
		u  string
		s  string
		ts time.Time
		n  int32
		b  bool
	}
	shanghai := time.FixedZone("CST", 8*3600)
	rows := []row{
		{1, "0190f1c2-3b4a-7c5d-8e6f-0123456789ab", "投诉 ✓", time.Date(2027, 3, 15, 9, 30, 0, 123456789, shanghai), -7, true},
		{-1 << 62, "0190F1C23B4A7C5D8E6F0123456789AB", "", time.Date(1999, 12, 31, 23, 59, 59, 999, time.UTC), 1<<31 - 1, false},
		{0, "00000000-0000-0000-0000-000000000000", "a\tb\nc\\", time.Unix(-1, 500).UTC(), 0, true},
	}
	var pgxRows [][]any
	var bin binaryRows
	for _, r := range rows {
		pgxRows = append(pgxRows, []any{r.i, r.u, r.s, r.ts, r.n, r.b})
		bin.row(6)
		bin.int8(r.i)
		if err := bin.uuid(r.u); err != nil {
			t.Fatal(err)
		}
		bin.text(r.s)
		bin.timestamptz(r.ts)
		bin.int4(r.n)
		bin.bool(r.b)
	}
	names := []string{"i", "u", "s", "ts", "n", "b"}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"via_pgx"}, names, pgx.CopyFromRows(pgxRows)); err != nil {
		t.Fatal(err)
	}
	if n, err := copyBinary(ctx, tx, "via_binary", names, &bin); err != nil || n != int64(len(rows)) {
		t.Fatalf("copyBinary: %d rows, %v", n, err)
	}
	dump := func(tab string) string {
		var s string
		if err := tx.QueryRow(ctx, "SELECT string_agg(format('%s|%s|%s|%s|%s|%s', i, u, s, ts AT TIME ZONE 'UTC', n, b), E'\\n' ORDER BY i) FROM "+tab).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if a, b := dump("via_pgx"), dump("via_binary"); a != b {
		t.Fatalf("binary rows differ from pgx's:\npgx    %s\nbinary %s", a, b)
	}
	var bad binaryRows
	for _, u := range []string{"", "not-a-uuid", "0190f1c2-3b4a-7c5d-8e6f-0123456789zz"} {
		if err := bad.uuid(u); err == nil {
			t.Errorf("uuid(%q): no error", u)
		}
	}
	if bad.rows != 0 || len(bad.buf) != 0 {
		t.Errorf("a rejected uuid left %d bytes", len(bad.buf))
	}
}
