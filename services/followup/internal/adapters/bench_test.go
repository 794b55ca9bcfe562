package adapters_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
	"github.com/kesu315/kesu/services/followup/internal/adapters"
	"github.com/kesu315/kesu/services/kit/auth"
)

// full is KESU_BENCH_FULL=1: the sizes the figures in docs quote.
var full = os.Getenv("KESU_BENCH_FULL") == "1"

// BenchmarkSweep measures the aftermath sweep (query + grouping, as the API
// serves it) over a season of complaints, beside a plain SQL count of the same
// rows in the same run. 10k complaints by default, 100k with KESU_BENCH_FULL=1;
// a fifth of them are not closed, spread over 50 owners and 4 levels.
func BenchmarkSweep(b *testing.B) {
	n := 10_000
	if full {
		n = 100_000
	}
	r := newRig(b, battle)
	start := time.Date(2027, 2, 25, 0, 0, 0, 0, shanghai)
	rows := make([][]any, 0, n)
	for i := range n {
		status, stage := int16(3), ""
		if i%5 == 0 {
			status, stage = int16(1+i%2), "open"
		}
		filed := start.Add(40 * 24 * time.Hour / time.Duration(n) * time.Duration(i))
		rows = append(rows, []any{uuid.Must(uuid.NewV7()).String(), shop, filed, status, stage, int16(1 + i%4),
			"quality", fmt.Sprintf("agent-%d", i%50), int16(1 + i%4), int64(i + 1), filed})
	}
	if _, err := r.pool.CopyFrom(r.ctx, pgx.Identifier{"followup", "complaints"},
		[]string{"complaint_id", "shop_id", "filed_at", "status", "stage", "severity", "category", "owner", "level", "last_seq", "updated_at"},
		pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	if _, err := r.pool.Exec(r.ctx, "ANALYZE followup.complaints"); err != nil {
		b.Fatal(err)
	}
	rd := adapters.NewReader(r.pool)
	from, to := start, time.Date(2027, 4, 11, 0, 0, 0, 0, shanghai)
	ctx := r.as(auth.RoleSupervisor, "bench")

	// The baseline first, in the same run: a plain count of the same rows.
	const rounds = 20
	t0 := time.Now()
	var want int64
	for range rounds {
		c, err := rd.CountUnclosed(r.ctx, shop, from, to)
		if err != nil {
			b.Fatal(err)
		}
		want = c
	}
	base := time.Since(t0) / rounds

	b.ResetTimer()
	for b.Loop() {
		res, err := r.api.Sweep(ctx, &followupv1.SweepRequest{ShopId: shop, Season: 2027})
		if err != nil {
			b.Fatal(err)
		}
		if res.GetTotal() != want {
			b.Fatalf("sweep %d, count %d", res.GetTotal(), want)
		}
	}
	b.StopTimer()
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(n), "complaints")
	b.ReportMetric(float64(want), "unclosed")
	b.ReportMetric(float64(per.Microseconds())/1000, "sweep-ms")
	b.ReportMetric(float64(base.Microseconds())/1000, "count-ms")
	b.ReportMetric(float64(per)/float64(base), "x-count")
}

// BenchmarkScheduling measures follow-ups scheduled per second: resolved
// complaints whose schedule timers the poller fires (load the history, decide,
// append FollowUpScheduled with optimistic concurrency, delete the timer),
// beside plain synchronous JetStream publishes of the same size in the same
// run. 2k complaints by default, 20k with KESU_BENCH_FULL=1.
func BenchmarkScheduling(b *testing.B) {
	n := 2_000
	if full {
		n = 20_000
	}
	for b.Loop() {
		b.StopTimer()
		r := newRig(b, battle)
		ids := make([]string, n)
		for i := range n {
			ids[i] = r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "agent-1", true)
		}
		r.caughtUp()
		if p := r.pending(); p != n {
			b.Fatalf("%d timers, want %d", p, n)
		}
		// Baseline: plain publishes, one at a time, of a FollowUpScheduled-sized message.
		data := make([]byte, 180)
		t0 := time.Now()
		for i := range n {
			m := nats.NewMsg("inbound.surveys.bench")
			m.Data = data
			m.Header.Set("Nats-Msg-Id", fmt.Sprint("bench-", i))
			if _, err := r.js.PublishMsg(r.ctx, m); err != nil {
				b.Fatal(err)
			}
		}
		base := time.Since(t0)
		b.StartTimer()
		t1 := time.Now()
		for {
			k, err := r.poller.RunOnce(r.ctx)
			if err != nil {
				b.Fatal(err)
			}
			if k == 0 {
				break
			}
		}
		took := time.Since(t1)
		b.StopTimer()
		if got := r.count(ids[n-1], "FollowUpScheduled"); got != 1 {
			b.Fatalf("last complaint: %d scheduled", got)
		}
		b.ReportMetric(float64(n)/took.Seconds(), "schedules/s")
		b.ReportMetric(float64(n)/base.Seconds(), "publishes/s")
		b.ReportMetric(took.Seconds()/base.Seconds(), "x-publish")
		b.StartTimer()
	}
}
