package projection_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/projection"
)

// summary is a Rebuilder: one row per complaint, maintained event by event
// live, and rebuilt set-based through a COPY staging table.
type summary struct{}

const summaryDDL = `CREATE TABLE ` + schema + `.summary (
	complaint_id text PRIMARY KEY,
	events       int NOT NULL,
	first_seq    bigint NOT NULL,
	last_seq     bigint NOT NULL,
	last_type    text NOT NULL,
	types        text NOT NULL -- every type in stream order
)`

func (summary) Apply(ctx context.Context, tx pgx.Tx, events []eventstore.Record) error {
	for _, ev := range events {
		_, err := tx.Exec(ctx, `INSERT INTO `+schema+`.summary AS s VALUES ($1, 1, $2, $2, $3, $3)
ON CONFLICT (complaint_id) DO UPDATE SET events = s.events + 1, last_seq = EXCLUDED.last_seq,
	last_type = EXCLUDED.last_type, types = s.types || ',' || EXCLUDED.types`,
			ev.ComplaintID, int64(ev.StreamSeq), ev.Type)
		if err != nil {
			return err
		}
	}
	return nil
}

func (summary) Reset(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `TRUNCATE `+schema+`.summary;
CREATE TEMP TABLE stage_summary (complaint_id text, stream_seq bigint, type text) ON COMMIT DROP`)
	return err
}

func (summary) Stage(ctx context.Context, tx pgx.Tx, events []eventstore.Record) error {
	rows := make([][]any, len(events))
	for i, ev := range events {
		rows[i] = []any{ev.ComplaintID, int64(ev.StreamSeq), ev.Type}
	}
	n, err := projection.CopyRows(ctx, tx, "stage_summary", []string{"complaint_id", "stream_seq", "type"}, rows)
	if err == nil && n != int64(len(rows)) {
		err = fmt.Errorf("copied %d of %d rows", n, len(rows))
	}
	return err
}

func (summary) Merge(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `INSERT INTO `+schema+`.summary
SELECT complaint_id, count(*), min(stream_seq), max(stream_seq),
	(array_agg(type ORDER BY stream_seq DESC))[1], string_agg(type, ',' ORDER BY stream_seq)
FROM stage_summary GROUP BY complaint_id
ON CONFLICT (complaint_id) DO UPDATE SET events = EXCLUDED.events, first_seq = EXCLUDED.first_seq,
	last_seq = EXCLUDED.last_seq, last_type = EXCLUDED.last_type, types = EXCLUDED.types`)
	return err
}

func (e *env) summaryRows(t *testing.T) string {
	t.Helper()
	rows, err := e.pool.Query(e.ctx, `SELECT complaint_id, events, first_seq, last_seq, last_type, types FROM `+schema+`.summary ORDER BY complaint_id`)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for rows.Next() {
		var id, lastType, types string
		var events, first, last int64
		if err := rows.Scan(&id, &events, &first, &last, &lastType, &types); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d %d %d %s %s\n", id, events, first, last, lastType, types)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The projection built live equals the same projection rebuilt from the
// stream, row for row, and the live runner continues after a rebuild.
func TestRebuildEqualsLiveProjection(t *testing.T) {
	e := newEnv(t, 7)
	e.exec(t, summaryDDL)
	cfg := projection.Config{Name: "summary", BatchSize: 16, RebuildChunk: 32}
	last := e.publish(t, 200)
	live := newRunner(t, e, summary{}, cfg)
	rn := run(t, live)
	waitFor(t, e.ctx, func() (bool, string) {
		cp, err := live.Checkpoint(e.ctx)
		return err == nil && cp == last, fmt.Sprintf("checkpoint %d of %d", cp, last)
	})
	if err := rn.stop(); err != nil {
		t.Fatal(err)
	}
	built := e.summaryRows(t)
	if strings.Count(built, "\n") != 7 {
		t.Fatalf("live projection has %d rows, want 7:\n%s", strings.Count(built, "\n"), built)
	}

	// Vandalise the table: a rebuild must not depend on what was there.
	e.exec(t, `UPDATE `+schema+`.summary SET events = -1`)
	if err := live.Rebuild(e.ctx, summary{}); err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	if rebuilt := e.summaryRows(t); rebuilt != built {
		t.Fatalf("rebuilt projection differs from the live one\nlive:\n%s\nrebuilt:\n%s", built, rebuilt)
	}
	if cp, err := live.Checkpoint(e.ctx); err != nil || cp != last {
		t.Fatalf("checkpoint after rebuild = %d, %v; want %d", cp, err, last)
	}

	// Live again from the rebuilt checkpoint: only new events are applied.
	last = e.publish(t, 30)
	rn = run(t, newRunner(t, e, summary{}, cfg))
	waitFor(t, e.ctx, func() (bool, string) {
		cp, err := live.Checkpoint(e.ctx)
		return err == nil && cp == last, fmt.Sprintf("checkpoint %d of %d", cp, last)
	})
	if err := rn.stop(); err != nil {
		t.Fatal(err)
	}
	afterLive := e.summaryRows(t)
	if err := live.Rebuild(e.ctx, summary{}); err != nil {
		t.Fatalf("second Rebuild: %v", err)
	}
	if rebuilt := e.summaryRows(t); rebuilt != afterLive {
		t.Fatalf("after more live events, rebuild differs\nlive:\n%s\nrebuilt:\n%s", afterLive, rebuilt)
	}
}

func TestRebuildOfEmptyStream(t *testing.T) {
	e := newEnv(t, 1)
	e.exec(t, summaryDDL)
	r := newRunner(t, e, summary{}, projection.Config{Name: "summary"})
	if err := r.Rebuild(e.ctx, summary{}); err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	e.publish(t, 3)
	rn := run(t, r)
	waitFor(t, e.ctx, func() (bool, string) {
		return e.int(t, `SELECT coalesce(sum(events), 0) FROM `+schema+`.summary`) == 3, "3 events not applied after an empty rebuild"
	})
	if err := rn.stop(); err != nil {
		t.Fatal(err)
	}
}
