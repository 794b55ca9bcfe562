package adapters

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kesu315/kesu/services/kit/pgtest"
	"github.com/kesu315/kesu/services/reporting/internal/domain"
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

// TestFactRowsEqualPgxRows COPYs the same facts once as factValues through
// pgx and once as factRow, into two twins of complaint_facts, and compares
// every column: NULLs, dates read in a fact's own zone, arrays empty and not.
func TestFactRowsEqualPgxRows(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	if err := Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	for _, tab := range []string{"via_pgx", "via_binary"} {
		if _, err := tx.Exec(ctx, "CREATE TEMP TABLE "+tab+" (LIKE "+Schema+".complaint_facts INCLUDING ALL)"); err != nil {
			t.Fatal(err)
		}
	}
	shanghai := time.FixedZone("CST", 8*3600)
	bare := &domain.Fact{
		ComplaintID: "0190f1c2-3b4a-7c5d-8e6f-000000000001", FirstResponseSeconds: -1, ResolutionSeconds: -1,
		MajorReasons: []string{}, FiledAt: time.Unix(0, 0).UTC(), LastEventAt: time.Unix(0, 0).UTC(),
	}
	full := &domain.Fact{
		ComplaintID: "0190F1C23B4A7C5D8E6F000000000002", ShopID: "demo-flagship", Season: 2027, Phase: "battle",
		FiledAt: time.Date(2027, 3, 15, 0, 30, 0, 123456789, shanghai), FiledDay: time.Date(2027, 3, 15, 0, 0, 0, 0, shanghai),
		Channel: "online_chat", Category: "quality", Severity: "major", CustomerType: "vip", SKU: "SKU-0001", Product: "商品 0001 ✓",
		OrderAmountFen: 9900, ClaimedFen: -1 << 40, Major: true, MajorReasons: []string{"media", "threat"}, Status: "closed",
		FirstResponseSeconds: 12, FirstResolvedAt: time.Date(2027, 3, 16, 1, 2, 3, 999, time.UTC),
		ResolvedAt: time.Date(2027, 3, 18, 1, 2, 3, 0, shanghai), ResolvedPhase: "aftermath", ResolutionSeconds: 0,
		Resolutions: 2, Outcome: "remedy_granted", RemedyKind: "refund", RemedyAmountFen: 1990, Retention: "retained",
		Reopens: 1, Contacts: 3, Transfers: 4, Team: "refund", AgentID: "agent-007", AgentTier: 3, EscalationLevel: 2,
		Escalations: 1, EscalationTrigger: "breach", BreachFirst: 1, BreachNext: 2, BreachResolution: 3, BreachODR: 4,
		BreachPromise: 5, BreachFollowUp: 6, PromisesMade: 7, PromisesBroken: 8, FollowUps: 9, FollowUpReached: true,
		Satisfaction: "dissatisfied", SatisfactionScore: -2, ClosedAt: time.Date(2027, 3, 19, 0, 0, 0, 0, time.UTC),
		CloseReason: "satisfied", PersonalErased: true, LastEventAt: time.Date(2027, 3, 19, 0, 0, 0, 1000, time.UTC),
		EventCount: 1 << 40, LastSeq: 1<<62 + 1,
	}
	single := &domain.Fact{
		ComplaintID: "0190f1c2-3b4a-7c5d-8e6f-000000000003", MajorReasons: []string{"投诉"}, FirstResponseSeconds: 7200,
		ResolutionSeconds: -1, FiledDay: time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), Status: "open",
		FiledAt: time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC), LastEventAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	var pgxRows [][]any
	var bin binaryRows
	for _, f := range []*domain.Fact{bare, full, single} {
		pgxRows = append(pgxRows, factValues(f))
		if err := factRow(&bin, f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"via_pgx"}, factColumns, pgx.CopyFromRows(pgxRows)); err != nil {
		t.Fatal(err)
	}
	if n, err := copyBinary(ctx, tx, "via_binary", factColumns, &bin); err != nil || n != 3 {
		t.Fatalf("copyBinary: %d rows, %v", n, err)
	}
	if _, err := tx.Exec(ctx, "SET LOCAL timezone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	dump := func(tab string) string {
		var s string
		if err := tx.QueryRow(ctx, "SELECT string_agg(t::text, E'\\n' ORDER BY complaint_id) FROM "+tab+" t").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if a, b := dump("via_pgx"), dump("via_binary"); a != b {
		t.Fatalf("fact rows differ from pgx's:\npgx    %s\nbinary %s", a, b)
	}
	var bad binaryRows
	if err := factRow(&bad, &domain.Fact{ComplaintID: "not-a-uuid"}); err == nil || bad.rows != 0 {
		t.Fatalf("factRow with a bad complaint id: err %v, %d rows kept", err, bad.rows)
	}
}
