package projection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/kesu315/kesu/services/kit/backoff"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/pull"
)

// Handler applies events to a projection's tables.
type Handler interface {
	// Apply applies events, in stream order, all above the checkpoint, in
	// tx. The runner commits tx together with the new checkpoint; an error
	// rolls both back and the batch is retried.
	Apply(ctx context.Context, tx pgx.Tx, events []eventstore.Record) error
}

// Committer is a Handler that wants to know when a batch it applied has
// committed (state it keeps in memory on the transaction's outcome, such as
// decisions made in Apply that count only once they are stored).
type Committer interface {
	Committed()
}

// Rebuilder is a Handler that can also be rebuilt from the whole stream
// with set-based statements (see the package doc for the staging pattern).
type Rebuilder interface {
	Handler
	// Reset empties the projection's tables and prepares staging tables.
	Reset(ctx context.Context, tx pgx.Tx) error
	// Stage receives the stream in order, one chunk at a time.
	Stage(ctx context.Context, tx pgx.Tx, events []eventstore.Record) error
	// Merge folds the staged rows into the projection's tables.
	Merge(ctx context.Context, tx pgx.Tx) error
}

// Runner runs one projection.
type Runner struct {
	cfg       Config
	pool      *pgxpool.Pool
	js        jetstream.JetStream
	h         Handler
	log       *slog.Logger
	table     string // quoted <schema>.projection_checkpoints
	apiPrefix string
	m         metrics

	running atomic.Bool
	lag     atomic.Int64 // -1 until first measured

	// Test hooks, called after Apply (before commit) and after commit
	// (before ack); an error is a simulated crash at that point.
	afterApply  func() error
	afterCommit func() error
	// trustConsumer skips the start-up consumer check, so tests reach the
	// per-batch gap check and checkpoint skipping.
	trustConsumer bool

	retryMin, retryMax time.Duration
}

type metrics struct {
	meter   metric.Meter
	attrs   attribute.Set
	applied metric.Int64Counter
	batches metric.Int64Counter
	errors  metric.Int64Counter
	lag     metric.Int64ObservableGauge
}

// New makes a Runner for handler h. It validates cfg; nothing is contacted
// until Run or Rebuild.
func New(pool *pgxpool.Pool, js jetstream.JetStream, h Handler, cfg Config) (*Runner, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if pool == nil || js == nil || h == nil {
		return nil, fmt.Errorf("%w: pool, js and handler are required", ErrInvalidConfig)
	}
	r := &Runner{
		cfg:       cfg,
		pool:      pool,
		js:        js,
		h:         h,
		log:       cfg.Logger.With("projection", cfg.Name),
		table:     pgx.Identifier{cfg.Schema, "projection_checkpoints"}.Sanitize(),
		apiPrefix: apiPrefix(js),
		retryMin:  200 * time.Millisecond,
		retryMax:  30 * time.Second,
	}
	r.lag.Store(-1)
	if err := r.initMetrics(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Runner) initMetrics() error {
	mp := r.cfg.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter("github.com/kesu315/kesu/services/kit/projection")
	r.m.meter = meter
	r.m.attrs = attribute.NewSet(attribute.String("projection", r.cfg.Name))
	var err error
	if r.m.applied, err = meter.Int64Counter("kesu.projection.events_applied", metric.WithUnit("{event}"),
		metric.WithDescription("Events applied to the projection (skipped redeliveries not counted)")); err != nil {
		return fmt.Errorf("projection: metrics: %w", err)
	}
	if r.m.batches, err = meter.Int64Counter("kesu.projection.batches", metric.WithUnit("{batch}"),
		metric.WithDescription("Batches committed")); err != nil {
		return fmt.Errorf("projection: metrics: %w", err)
	}
	if r.m.errors, err = meter.Int64Counter("kesu.projection.errors", metric.WithUnit("{error}"),
		metric.WithDescription("Failures by stage; each is retried")); err != nil {
		return fmt.Errorf("projection: metrics: %w", err)
	}
	if r.m.lag, err = meter.Int64ObservableGauge("kesu.projection.lag", metric.WithUnit("{event}"),
		metric.WithDescription("Stream sequences between the stream's last event and the checkpoint")); err != nil {
		return fmt.Errorf("projection: metrics: %w", err)
	}
	return nil
}

// Name is the projection's name.
func (r *Runner) Name() string { return r.cfg.Name }

// Run applies the stream to the projection until ctx is cancelled, then
// finishes the batch in flight and returns nil. Failures (NATS or
// PostgreSQL unavailable, a handler error) are logged, counted and retried
// with backoff; Run keeps going. If another replica leads the projection,
// Run waits to take over.
func (r *Runner) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return fmt.Errorf("projection %s: %w", r.cfg.Name, ErrRunning)
	}
	defer r.running.Store(false)

	reg, err := r.m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if v := r.lag.Load(); v >= 0 {
			o.ObserveInt64(r.m.lag, v, metric.WithAttributeSet(r.m.attrs))
		}
		return nil
	}, r.m.lag)
	if err != nil {
		return fmt.Errorf("projection %s: register lag gauge: %w", r.cfg.Name, err)
	}
	defer func() { _ = reg.Unregister() }()

	lagCtx, stopLag := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { r.pollLag(lagCtx) })
	defer func() { stopLag(); wg.Wait() }()

	bo := backoff.Backoff{Min: r.retryMin, Max: r.retryMax}
	for {
		err := r.lead(ctx, func(conn *pgxpool.Conn) error { return r.loop(ctx, conn) })
		if ctx.Err() != nil {
			r.log.Info("projection stopped")
			return nil
		}
		var crash crashError
		if errors.As(err, &crash) {
			return err
		}
		r.fail(ctx, "session", err)
		if bo.Wait(ctx) != nil {
			return nil
		}
	}
}

// lockKey elects one leader per projection across replicas.
func (r *Runner) lockKey() string { return "kesu.projection." + r.cfg.Schema + "." + r.cfg.Name }

// lead runs fn on a pinned connection holding the projection's session
// advisory lock. All batches commit on that session, so a batch can only
// commit while its runner still holds the lock.
func (r *Runner) lead(ctx context.Context, fn func(*pgxpool.Conn) error) error {
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		// Unlock explicitly so a standby takes over at once, and hand the
		// connection back with the pool's settings; a session in doubt is
		// closed instead, which releases the lock too.
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock(hashtextextended($1, 0))", r.lockKey()); err != nil {
			_ = conn.Conn().Close(uctx)
		} else if _, err := conn.Exec(uctx, "RESET synchronous_commit"); err != nil {
			_ = conn.Conn().Close(uctx)
		}
		conn.Release()
	}()
	// A batch's commit need not wait for its WAL to reach the disk: the
	// checkpoint is in the same transaction, so a commit PostgreSQL loses in
	// a crash takes its checkpoint with it, the consumer (acknowledged past
	// the checkpoint) is recreated there, and the batch is applied again from
	// the stream. Waiting for the flush cost each batch an fsync, which on a
	// busy disk was most of a small batch's time.
	if _, err := conn.Exec(ctx, "SET synchronous_commit TO off"); err != nil {
		return fmt.Errorf("session settings: %w", err)
	}
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", r.lockKey()).Scan(&got); err != nil {
		return fmt.Errorf("leader lock: %w", err)
	}
	if !got {
		r.log.Info("another replica leads this projection; standing by")
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtextextended($1, 0))", r.lockKey()); err != nil {
			return fmt.Errorf("leader lock: %w", err)
		}
		r.log.Info("took over the projection")
	}
	if err := r.ensureCheckpoint(ctx, conn); err != nil {
		return err
	}
	return fn(conn)
}

// ensureCheckpoint creates the checkpoint table and this projection's row.
// DDL shares the schema lock of package migrate, so it never races a
// migration or another projection creating the same table.
func (r *Runner) ensureCheckpoint(ctx context.Context, conn *pgxpool.Conn) error {
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('kesu.migrate.' || $1, 0))", r.cfg.Schema); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", r.cfg.Schema).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			if _, err := tx.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{r.cfg.Schema}.Sanitize()); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+r.table+` (
	name       text PRIMARY KEY,
	stream_seq bigint NOT NULL DEFAULT 0 CHECK (stream_seq >= 0),
	updated_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO "+r.table+" (name, stream_seq) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING", r.cfg.Name)
		return err
	})
	if err != nil {
		return fmt.Errorf("create checkpoint %s: %w", r.table, err)
	}
	return nil
}

// loop fetches and applies batches until ctx is cancelled or the session
// breaks.
func (r *Runner) loop(ctx context.Context, conn *pgxpool.Conn) error {
	cons, err := r.reconcile(ctx, conn, false)
	if err != nil {
		return err
	}
	bo := backoff.Backoff{Min: r.retryMin, Max: r.retryMax}
	for ctx.Err() == nil {
		msgs, err := r.fetch(ctx, cons)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.fail(ctx, "fetch", err)
			if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
				if cons, err = r.reconcile(ctx, conn, false); err != nil {
					return err
				}
				continue
			}
			if bo.Wait(ctx) != nil {
				return nil
			}
			continue
		}
		if len(msgs) == 0 {
			continue
		}
		err = r.processBatch(ctx, conn, msgs)
		var crash crashError
		switch {
		case err == nil:
			bo.Reset()
		case errors.As(err, &crash):
			return err
		case errors.Is(err, errResync):
			r.log.Warn("an event before this batch is still unacknowledged elsewhere; recreating the consumer at the checkpoint")
			if cons, err = r.reconcile(ctx, conn, true); err != nil {
				return err
			}
		case conn.Conn().IsClosed():
			nakAll(msgs)
			return err
		default:
			r.fail(ctx, "apply", err)
			// Nak without delay: redeliveries are served before new
			// messages, which keeps the next batch in stream order.
			nakAll(msgs)
			if bo.Wait(ctx) != nil {
				return nil
			}
		}
	}
	return nil
}

// fetch takes the next batch without waiting to fill it, so a lone event is
// projected at once.
func (r *Runner) fetch(ctx context.Context, cons jetstream.Consumer) ([]jetstream.Msg, error) {
	return pull.Fetch(ctx, cons, r.cfg.BatchSize, r.cfg.MaxWait)
}

type delivered struct {
	msg jetstream.Msg
	rec eventstore.Record
}

// processBatch is the heart of the runner: one transaction applies the
// events above the checkpoint and advances it; acks follow the commit.
func (r *Runner) processBatch(ctx context.Context, conn *pgxpool.Conn, msgs []jetstream.Msg) error {
	batch := make([]delivered, 0, len(msgs))
	for _, m := range msgs {
		rec, err := eventstore.RecordFromMsg(m)
		if err != nil {
			// Stalling beats skipping: a skipped event would be missing from
			// the projection for good. The errors metric and the lag show it.
			r.count(ctx, "decode")
			return fmt.Errorf("decode event: %w", err)
		}
		batch = append(batch, delivered{m, rec})
	}
	slices.SortStableFunc(batch, func(a, b delivered) int {
		switch {
		case a.rec.StreamSeq < b.rec.StreamSeq:
			return -1
		case a.rec.StreamSeq > b.rec.StreamSeq:
			return 1
		}
		return 0
	})

	// The batch in flight completes even when Run is being stopped.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.BatchTimeout)
	defer cancel()
	tx, err := conn.Begin(pctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(pctx) }()

	cp, err := r.lockCheckpoint(pctx, tx)
	if err != nil {
		return err
	}
	var events []eventstore.Record
	for i, d := range batch {
		if d.rec.StreamSeq > cp && (i == 0 || d.rec.StreamSeq != batch[i-1].rec.StreamSeq) {
			events = append(events, d.rec)
		}
	}
	n, err := r.contiguous(pctx, cp, events)
	if err != nil {
		return err
	}
	resync := n < len(events)
	events = events[:n]
	newCP := cp
	if len(events) > 0 {
		first, last := events[0].StreamSeq, events[len(events)-1].StreamSeq
		if err := r.h.Apply(pctx, tx, events); err != nil {
			return fmt.Errorf("apply events %d..%d: %w", first, last, err)
		}
		if r.afterApply != nil {
			if err := r.afterApply(); err != nil {
				return crashError{err}
			}
		}
		newCP = last
		if _, err := tx.Exec(pctx, "UPDATE "+r.table+" SET stream_seq = $2, updated_at = now() WHERE name = $1", r.cfg.Name, int64(newCP)); err != nil {
			return fmt.Errorf("advance checkpoint: %w", err)
		}
	}
	if err := tx.Commit(pctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if c, ok := r.h.(Committer); ok && len(events) > 0 {
		c.Committed()
	}
	if r.afterCommit != nil {
		if err := r.afterCommit(); err != nil {
			return crashError{err}
		}
	}
	// A lost ack only means a redelivery, which the checkpoint skips.
	for _, d := range batch {
		if d.rec.StreamSeq <= newCP {
			_ = d.msg.Ack()
		}
	}
	r.m.batches.Add(ctx, 1, metric.WithAttributeSet(r.m.attrs))
	r.m.applied.Add(ctx, int64(len(events)), metric.WithAttributeSet(r.m.attrs))
	if resync {
		return errResync
	}
	if md, err := batch[len(batch)-1].msg.Metadata(); err == nil && md.NumPending == 0 {
		r.lag.Store(0) // caught up with the filter: nothing above the checkpoint
	}
	return nil
}

// contiguous returns how many leading events follow each other with no
// matching stream event left out: the consumer hands out an event ahead of
// one still unacknowledged by a dead process, and applying it would move
// the checkpoint past the missing one for good.
func (r *Runner) contiguous(ctx context.Context, cp uint64, events []eventstore.Record) (int, error) {
	prev := cp
	for i, e := range events {
		if e.StreamSeq > prev+1 {
			next, found, err := r.nextSeq(ctx, prev+1)
			if err != nil {
				return 0, fmt.Errorf("check for a gap before %d: %w", e.StreamSeq, err)
			}
			if found && next < e.StreamSeq {
				return i, nil
			}
		}
		prev = e.StreamSeq
	}
	return len(events), nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (r *Runner) lockCheckpoint(ctx context.Context, tx pgx.Tx) (uint64, error) {
	var cp int64
	err := tx.QueryRow(ctx, "SELECT stream_seq FROM "+r.table+" WHERE name = $1 FOR UPDATE", r.cfg.Name).Scan(&cp)
	if errors.Is(err, pgx.ErrNoRows) {
		// Deleted by hand while running: start over from the beginning.
		err = tx.QueryRow(ctx, "INSERT INTO "+r.table+" (name, stream_seq) VALUES ($1, 0) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING stream_seq", r.cfg.Name).Scan(&cp)
	}
	if err != nil {
		return 0, fmt.Errorf("lock checkpoint: %w", err)
	}
	return uint64(cp), nil
}

func (r *Runner) readCheckpoint(ctx context.Context, q querier) (uint64, error) {
	var cp int64
	err := q.QueryRow(ctx, "SELECT stream_seq FROM "+r.table+" WHERE name = $1", r.cfg.Name).Scan(&cp)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read checkpoint: %w", err)
	}
	return uint64(cp), nil
}

// Checkpoint is the stream sequence the projection has applied up to.
func (r *Runner) Checkpoint(ctx context.Context) (uint64, error) {
	cp, err := r.readCheckpoint(ctx, r.pool)
	if err != nil {
		return 0, fmt.Errorf("projection %s: %w", r.cfg.Name, err)
	}
	return cp, nil
}

func nakAll(msgs []jetstream.Msg) {
	for _, m := range msgs {
		_ = m.Nak()
	}
}

func (r *Runner) fail(ctx context.Context, stage string, err error) {
	r.log.Error("projection failure; retrying", "stage", stage, "err", err)
	r.count(ctx, stage)
}

func (r *Runner) count(ctx context.Context, stage string) {
	r.m.errors.Add(ctx, 1, metric.WithAttributeSet(r.m.attrs), metric.WithAttributes(attribute.String("stage", stage)))
}
