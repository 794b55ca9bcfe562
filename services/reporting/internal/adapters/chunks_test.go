package adapters_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/pgtest"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/services/reporting/internal/adapters"
	"github.com/kesu315/kesu/services/reporting/internal/domain"
)

// TestRebuildIsTheSameWhateverTheChunks rebuilds one generated season
// twice, once in the benchmark's chunks and once in tiny ones (a few
// events per Stage, a few facts per COPY, so that every COPY overlaps the
// next chunk's work), and compares every table the rebuild writes.
func TestRebuildIsTheSameWhateverTheChunks(t *testing.T) {
	ctx := context.Background()
	pol, err := policy.Load(policyPath)
	if err != nil {
		t.Fatal(err)
	}
	season := generateSeason(t, 60)
	var all []eventstore.Record
	for i := range season.chunks {
		all = append(all, season.chunk(i)...)
	}
	load := func(events, facts int) *pgxpool.Pool {
		defer adapters.SetFactChunk(facts)()
		pool := pgtest.NewDB(t)
		if err := adapters.Migrate(ctx, pool); err != nil {
			t.Fatal(err)
		}
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		proj := adapters.NewProjection(domain.PolicyPlacer{Policy: pol})
		if err := proj.Reset(ctx, tx); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(all); i += events {
			if err := proj.Stage(ctx, tx, all[i:min(i+events, len(all))]); err != nil {
				t.Fatal(err)
			}
		}
		if err := proj.Merge(ctx, tx); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		return pool
	}
	big, small := load(len(all), 8192), load(5, 3)
	for _, q := range []string{
		"SELECT count(*)::text || ' ' || string_agg(t::text, E'\\n' ORDER BY stream_seq) FROM reporting.events t",
		"SELECT count(*)::text || ' ' || string_agg(t::text, E'\\n' ORDER BY stream_seq) FROM reporting.escalations t",
		"SELECT count(*)::text || ' ' || string_agg(t::text, E'\\n' ORDER BY complaint_id) FROM reporting.complaint_facts t",
		"SELECT count(*)::text || ' ' || string_agg(t::text, E'\\n' ORDER BY shop_id, season, dim, key) FROM reporting.season_groups t",
		"SELECT count(*)::text || ' ' || string_agg(t::text, E'\\n' ORDER BY shop_id, season, measure, phase, value) FROM reporting.season_values t",
	} {
		var a, b string
		if err := big.QueryRow(ctx, q).Scan(&a); err != nil {
			t.Fatal(err)
		}
		if err := small.QueryRow(ctx, q).Scan(&b); err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Fatalf("%s\ndiffers between chunkings:\n%.300s\n%.300s", q, a, b)
		}
		if a == "0 " || len(a) < 10 {
			t.Fatalf("%s: nothing written (%q)", q, a)
		}
	}
}
