package adapters_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/escalation/internal/adapters"
	"github.com/kesu315/kesu/services/escalation/internal/domain"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/natstest"
	"github.com/kesu315/kesu/services/kit/pgtest"
	"github.com/kesu315/kesu/services/kit/policy"
)

// BenchmarkBreachLateness measures how late a breach is appended after its
// due instant: open deadlines in the table (1 000 000 with KESU_BENCH_FULL=1,
// 100 000 otherwise), of which 2 000 per second fall due for a few seconds
// (10 s full, 3 s default). Each due deadline belongs to a real complaint
// stream, so every breach is the full path: claim with FOR UPDATE SKIP
// LOCKED, decide on the projection's state (state check), append
// DeadlineBreached expecting the complaint's last sequence, publish the
// alert, mark the row. (The ladder move that follows is a reaction of the
// projection, not run here.)
// Lateness = the instant the append was acknowledged − the due instant, on
// the wall clock.
//
// The baseline, in the same run on the same servers and table size: a plain
// loop of SELECT … FOR UPDATE SKIP LOCKED, one plain synchronous JetStream
// publish per row, UPDATE, COMMIT.
//
// Two servers: a single node with sync_interval always (a single-node
// install, durable by an fsync per message) and a three-node R3 cluster
// (production, durable by replication).
func BenchmarkBreachLateness(b *testing.B) {
	b.Run("single", func(b *testing.B) {
		ns := natstest.StartServer(b)
		benchLateness(b, ns.Connect(b), 1)
	})
	b.Run("cluster3", func(b *testing.B) {
		c := natstest.StartCluster(b, 3)
		benchLateness(b, c.Connect(b), 3)
	})
}

func benchLateness(b *testing.B, nc *nats.Conn, replicas int) {
	total, seconds := 100_000, 3
	if os.Getenv("KESU_BENCH_FULL") == "1" {
		total, seconds = 1_000_000, 10
	}
	if v, err := strconv.Atoi(os.Getenv("KESU_BENCH_OPEN")); err == nil && v > 0 {
		total = v
	}
	if v, err := strconv.Atoi(os.Getenv("KESU_BENCH_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	const rate = 2000
	nDue := rate * seconds
	ctx := context.Background()

	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	if err := eventstore.EnsureAll(ctx, js, eventstore.Config{Replicas: replicas}); err != nil {
		b.Fatal(err)
	}
	store, err := eventstore.New(nc, js, eventstore.StoreOptions{})
	if err != nil {
		b.Fatal(err)
	}
	pool := pgtest.NewDB(b)
	if err := adapters.Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	pol, err := policy.Load(shippedPath)
	if err != nil {
		b.Fatal(err)
	}
	// The complaints whose first response falls due during the run.
	filed := time.Now().Add(-time.Hour)
	ids := make([]string, nDue)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7()).String()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	for _, id := range ids {
		g.Go(func() error {
			var evs []eventstore.Event
			for _, p := range []proto.Message{
				&complaintv1.ComplaintFiled{Channel: complaintv1.Channel_CHANNEL_HOTLINE_400},
				&complaintv1.ComplaintClassified{Category: "product_quality", Severity: complaintv1.Severity_SEVERITY_NORMAL},
			} {
				ev, err := events.New(events.Envelope{ComplaintID: id, ShopID: shop, RecordedAt: filed,
					Actor: &complaintv1.Actor{Kind: complaintv1.ActorKind_ACTOR_KIND_SYSTEM, Id: "bench"}}, p)
				if err != nil {
					return err
				}
				e, err := events.Encode(ev)
				if err != nil {
					return err
				}
				evs = append(evs, e)
			}
			_, err := store.Append(gctx, id, 0, evs...)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}

	far := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now().Add(3 * time.Second)
	rows := make([][]any, 0, total)
	for i, id := range ids {
		due := start.Add(time.Duration(i) * time.Second / rate)
		rows = append(rows, []any{domain.DeadlineID(id, policy.ClockFirstResponse, ""), id, shop, "first_response", "", int64(1), "running",
			filed, due, due, true, due})
	}
	for i := nDue; i < total; i++ {
		id := uuid.Must(uuid.NewV7()).String()
		due := far.Add(time.Duration(i) * time.Second)
		rows = append(rows, []any{domain.DeadlineID(id, policy.ClockResolution, ""), id, shop, "resolution", "", int64(1), "running",
			filed, due, due, false, due})
	}
	cols := []string{"deadline_id", "complaint_id", "shop_id", "clock", "key", "generation", "status", "started_at", "warn_at", "due_at", "warned", "fire_at"}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"escalation", "deadlines"}, cols, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE escalation.deadlines`); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d open deadlines, %d falling due at %d/s from %s", total, nDue, rate, start.Format(time.TimeOnly))

	// Kesu's poller.
	var mu sync.Mutex
	var late []time.Duration
	done := make(chan struct{})
	runCtx, cancel := context.WithCancel(ctx)
	conc, _ := strconv.Atoi(os.Getenv("KESU_BENCH_CONCURRENCY"))
	poller := adapters.NewPoller(pool, store, js, pol, clock.Wall(), adapters.PollerConfig{
		Concurrency: conc,
		OnBreach: func(due, appended time.Time) {
			mu.Lock()
			defer mu.Unlock()
			late = append(late, appended.Sub(due))
			if len(late) == nDue {
				close(done)
			}
			// (appends after a timeout land past nDue and are cut off below)
		},
	})
	defer cancel()
	b.ResetTimer()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = poller.Run(runCtx)
	}()
	select {
	case <-done:
	case <-time.After(time.Duration(seconds)*time.Second + 3*time.Minute):
		// Not all appended: count each missing breach as late as it is now,
		// a lower bound, so the percentiles stay honest.
		mu.Lock()
		missing := nDue - len(late)
		for i := nDue - missing; i < nDue; i++ {
			late = append(late, time.Since(start.Add(time.Duration(i)*time.Second/rate)))
		}
		mu.Unlock()
		b.Logf("WARNING: %d of %d breaches not appended within the window; counted as late as they were then", missing, nDue)
	}
	cancel()
	<-stopped
	b.StopTimer()
	mu.Lock()
	late = late[:nDue]
	mu.Unlock()

	// The baseline on a copy of the table, its due rows moved to a fresh window.
	base := time.Now().Add(3 * time.Second)
	for _, q := range []string{
		`CREATE TABLE escalation.bench_baseline AS
			SELECT deadline_id, complaint_id, CASE WHEN due_at < $1::timestamptz THEN $2::timestamptz + (due_at - $3::timestamptz) ELSE due_at END AS fire_at
			FROM escalation.deadlines`,
		`CREATE INDEX ON escalation.bench_baseline (fire_at) WHERE fire_at IS NOT NULL`,
		`ANALYZE escalation.bench_baseline`,
	} {
		args := []any{far, base, start}
		if q[0] != 'C' || q[7] != 'T' {
			args = nil
		}
		if _, err := pool.Exec(ctx, q, args...); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("kesu: p50 %s p99 %s max %s (measured before the baseline)", pct(late, 0.5), pct(late, 0.99), pct(late, 1))
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "BENCH", Subjects: []string{"bench.>"}, Storage: jetstream.FileStorage, Replicas: replicas}); err != nil {
		b.Fatal(err)
	}
	baseLate, err := baselineLoop(ctx, pool, js, nDue)
	if err != nil {
		b.Fatal(err)
	}

	p50, p99, mx := pct(late, 0.50), pct(late, 0.99), pct(late, 1)
	bp50, bp99, bmx := pct(baseLate, 0.50), pct(baseLate, 0.99), pct(baseLate, 1)
	b.ReportMetric(ms(p50), "p50-late-ms")
	b.ReportMetric(ms(p99), "p99-late-ms")
	b.ReportMetric(ms(mx), "max-late-ms")
	b.ReportMetric(ms(bp50), "raw-p50-late-ms")
	b.ReportMetric(ms(bp99), "raw-p99-late-ms")
	b.ReportMetric(ms(bmx), "raw-max-late-ms")
	b.ReportMetric(ms(p99)/max(ms(bp99), 0.001), "p99-ratio")
	b.Logf("kesu: p50 %s p99 %s max %s | raw SKIP LOCKED + publish: p50 %s p99 %s max %s | open %d, due %d at %d/s",
		p50, p99, mx, bp50, bp99, bmx, total, nDue, rate)
}

// baselineLoop is the plain poller: claim due rows, publish each, mark them.
func baselineLoop(ctx context.Context, pool *pgxpool.Pool, js jetstream.JetStream, n int) ([]time.Duration, error) {
	var late []time.Duration
	payload := make([]byte, 200)
	for len(late) < n {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return nil, err
		}
		rows, err := tx.Query(ctx, `SELECT deadline_id::text, fire_at FROM escalation.bench_baseline
			WHERE fire_at <= $1 ORDER BY fire_at LIMIT 512 FOR UPDATE SKIP LOCKED`, time.Now())
		if err != nil {
			return nil, err
		}
		type due struct {
			id string
			at time.Time
		}
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (due, error) {
			var d due
			return d, r.Scan(&d.id, &d.at)
		})
		if err != nil {
			return nil, err
		}
		ids := make([]string, len(list))
		for i, d := range list {
			if _, err := js.Publish(ctx, "bench.breach."+d.id, payload); err != nil {
				return nil, err
			}
			late = append(late, time.Since(d.at))
			ids[i] = d.id
		}
		if _, err := tx.Exec(ctx, `UPDATE escalation.bench_baseline SET fire_at = NULL WHERE deadline_id = ANY($1::uuid[])`, ids); err != nil {
			return nil, err
		}
		if err := tx.Commit(ctx); err != nil {
			return nil, err
		}
		if len(list) == 0 {
			var next *time.Time
			if err := pool.QueryRow(ctx, `SELECT min(fire_at) FROM escalation.bench_baseline WHERE fire_at IS NOT NULL`).Scan(&next); err != nil {
				return nil, err
			}
			if next != nil {
				_ = clock.SleepUntil(ctx, clock.Wall(), *next)
			}
		}
	}
	return late, nil
}

func pct(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
