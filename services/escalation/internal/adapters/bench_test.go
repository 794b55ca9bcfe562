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
	"github.com/kesu315/kesu/services/kit/projection"
	"github.com/kesu315/kesu/services/kit/service"
)

// BenchmarkBreachLateness measures how late a breach is appended after its
// due instant: open deadlines in the table (1 000 000 with KESU_BENCH_FULL=1,
// 100 000 otherwise), of which 2 000 per second fall due for a few seconds
// (10 s full, 3 s default). Each due deadline belongs to a real complaint
// stream folded by the clocks projection, so every breach is the production
// path: claim with FOR UPDATE SKIP LOCKED, decide on the projection's state,
// append DeadlineBreached expecting the complaint's last sequence, publish
// the alert, mark the row. Lateness = the instant the append was
// acknowledged − the due instant, on the wall clock. The schedule is set
// after the setup, so setup time is never counted as lateness.
//
// The baseline, in the same run on the same servers and table size: a plain
// loop of SELECT … FOR UPDATE SKIP LOCKED, one plain synchronous JetStream
// publish per row, UPDATE, COMMIT.
//
// Servers: a single node with sync_interval always (a single-node install,
// durable by an fsync per message) and a three-node R3 cluster (production,
// durable by replication). cluster3-ladder also keeps the projection running
// through the window, so each breach's ladder move (a reaction the poller
// appends as ComplaintEscalated) competes with the breaches, as it does in
// production.
func BenchmarkBreachLateness(b *testing.B) {
	b.Run("single", func(b *testing.B) {
		ns := natstest.StartServer(b)
		benchLateness(b, ns.Connect(b), 1, false)
	})
	b.Run("cluster3", func(b *testing.B) {
		c := natstest.StartCluster(b, 3)
		benchLateness(b, c.Connect(b), 3, false)
	})
	b.Run("cluster3-ladder", func(b *testing.B) {
		c := natstest.StartCluster(b, 3)
		benchLateness(b, c.Connect(b), 3, true)
	})
}

func benchLateness(b *testing.B, nc *nats.Conn, replicas int, ladder bool) {
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
	// lead is how far ahead of the schedule's start the setup after it must
	// finish (the UPDATE of the due rows on a loaded machine takes seconds).
	const lead = 15 * time.Second
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
	// The service's pool size (pgxpool's own default is 4, which the
	// projection's leader lock, the poller's LISTEN and four pass loops
	// would exhaust).
	cfg, err := pgxpool.ParseConfig(pgtest.URL(pgtest.NewDB(b)))
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = service.DefaultPoolSize
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
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
	// Each complaint is appended, then folded by the clocks projection
	// itself, so the poller starts from the state it has in production: the
	// complaint's facts and its last sequence (the fast path decides on them
	// without loading the history), every clock the policy starts.
	recs := make([][]eventstore.Record, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	for i, id := range ids {
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
			app, err := store.Append(gctx, id, 0, evs...)
			if err != nil {
				return err
			}
			for j, e := range evs {
				recs[i] = append(recs[i], eventstore.Record{Event: e, ComplaintID: id, StreamSeq: app.Seqs[j]})
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	// The clocks projection folds the filings into facts and clocks, the
	// state the poller has in production (its fast path decides on it). With
	// ladder it keeps running through the measured window, as in production:
	// it folds every breach as it lands and hands the ladder's escalation to
	// the poller as a reaction, whose append competes with the breaches.
	// Without, it stops first and the figure is the breach path alone.
	var lastSeq uint64
	for _, rs := range recs {
		lastSeq = max(lastSeq, rs[len(rs)-1].StreamSeq)
	}
	runner, err := projection.New(pool, js, adapters.NewProjection(pol, clock.Wall(), adapters.DefaultSpike),
		projection.Config{Name: adapters.ProjectionName, Schema: adapters.Schema})
	if err != nil {
		b.Fatal(err)
	}
	projCtx, stopProj := context.WithCancel(ctx)
	projDone := make(chan struct{})
	go func() {
		defer close(projDone)
		_ = runner.Run(projCtx)
	}()
	defer func() { stopProj(); <-projDone }()
	for caughtUp := time.Now().Add(10 * time.Minute); ; {
		// (an error until Run has created the checkpoint table)
		if cp, err := runner.Checkpoint(ctx); err == nil && cp >= lastSeq {
			break
		} else if time.Now().After(caughtUp) {
			b.Fatalf("the projection did not fold the setup's filings: checkpoint %d of %d (%v)", cp, lastSeq, err)
		}
		time.Sleep(100 * time.Millisecond) // waiting for the projection to fold the setup's filings
	}
	if !ladder {
		stopProj()
		<-projDone
	}

	far := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	var have int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM escalation.deadlines`).Scan(&have); err != nil {
		b.Fatal(err)
	}
	rows := make([][]any, 0, max(total-have, 0))
	for i := have; i < total; i++ {
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
	// The first response of the due complaints falls due on the benchmark's
	// schedule: 2 000 a second from start on. The schedule is set last, after
	// the slow part of the setup, so no deadline is already late when the
	// poller starts.
	start := time.Now().Add(lead)
	dueIDs := make([]string, nDue)
	dueAt := make([]time.Time, nDue)
	for i, id := range ids {
		dueIDs[i] = domain.DeadlineID(id, policy.ClockFirstResponse, "")
		dueAt[i] = start.Add(time.Duration(i) * time.Second / rate)
	}
	tag, err := pool.Exec(ctx, `UPDATE escalation.deadlines d SET warn_at = u.due, due_at = u.due, fire_at = u.due, warned = true
		FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, due) WHERE d.deadline_id = u.id AND d.status = 'running'`, dueIDs, dueAt)
	if err != nil {
		b.Fatal(err)
	}
	if tag.RowsAffected() != int64(nDue) {
		b.Fatalf("%d of %d first-response clocks running after the projection", tag.RowsAffected(), nDue)
	}
	// The filings' own reactions (a spike of 2 000 a second in one category)
	// are not what is measured.
	if _, err := pool.Exec(ctx, `DELETE FROM escalation.reactions`); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d open deadlines, %d falling due at %d/s from %s", total, nDue, rate, start.Format(time.TimeOnly))

	// Kesu's poller.
	var mu sync.Mutex
	var late []time.Duration
	done := make(chan struct{})
	runCtx, cancel := context.WithCancel(ctx)
	conc, _ := strconv.Atoi(os.Getenv("KESU_BENCH_CONCURRENCY"))
	phases := map[string]*phaseStat{}
	poller := adapters.NewPoller(pool, store, js, pol, clock.Wall(), adapters.PollerConfig{
		Concurrency: conc,
		OnPhase: func(phase string, rows int, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			st := phases[phase]
			if st == nil {
				st = &phaseStat{}
				phases[phase] = st
			}
			st.passes++
			st.rows += rows
			st.total += d
			st.max = max(st.max, d)
		},
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
	if late := time.Since(start); late > 0 {
		b.Fatalf("setup ran %s past the first due instant: the figures would count setup as lateness", late)
	}
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

	// The baseline on a copy of the table, its due rows moved to a fresh
	// window once the copy is built and indexed (as for Kesu, setup is not
	// lateness).
	for _, q := range []string{
		`CREATE TABLE escalation.bench_baseline AS SELECT deadline_id, complaint_id, due_at AS fire_at FROM escalation.deadlines`,
		`CREATE INDEX ON escalation.bench_baseline (fire_at) WHERE fire_at IS NOT NULL`,
		`ANALYZE escalation.bench_baseline`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	base := time.Now().Add(lead)
	if _, err := pool.Exec(ctx, `UPDATE escalation.bench_baseline SET fire_at = $1::timestamptz + (fire_at - $2::timestamptz) WHERE fire_at < $3`,
		base, start, far); err != nil {
		b.Fatal(err)
	}
	if late := time.Since(base); late > 0 {
		b.Fatalf("baseline setup ran %s past its first due instant", late)
	}
	b.Logf("kesu: p50 %s p99 %s max %s (measured before the baseline)", pct(late, 0.5), pct(late, 0.99), pct(late, 1))
	for _, name := range []string{"claim", "load", "fire", "alerts", "update", "commit"} {
		if st := phases[name]; st != nil {
			b.Logf("pass phase %-6s: %d passes, %.1f rows/pass, mean %s, max %s, total %s", name, st.passes,
				float64(st.rows)/float64(st.passes), st.total/time.Duration(st.passes), st.max, st.total)
		}
	}
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

// phaseStat sums one phase of the poller's passes.
type phaseStat struct {
	passes, rows int
	total, max   time.Duration
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
