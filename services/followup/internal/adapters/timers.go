package adapters

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/kesu315/kesu/services/kit/clock"
)

// Reactor carries out the reactions the timers hold (app.Service).
type Reactor interface {
	Schedule(ctx context.Context, complaintID, resolutionID string) error
	ReopenOnContact(ctx context.Context, complaintID, contactID string) error
	CloseNoAnswer(ctx context.Context, complaintID, followUpID string) error
	EraseCustomer(ctx context.Context, shopID, customerRef string) error
}

// PollerConfig tunes the poller; zero fields take the defaults.
type PollerConfig struct {
	// Batch is how many due timers one round takes; default 64.
	Batch int
	// Concurrency is how many of a round's timers fire at once; default 8.
	Concurrency int
	// Interval is how often (wall time) the table is looked at for timers
	// the projection just added; default 500ms. Due times themselves are
	// waited for on the service clock.
	Interval time.Duration
	// RetryMin and RetryMax bound the wait (service clock) after a failed
	// reaction, doubling per try; default 1s and 5m.
	RetryMin, RetryMax time.Duration
	Clock              clock.Clock
	Logger             *slog.Logger
	MeterProvider      metric.MeterProvider
}

// Poller fires due timers: SELECT … FOR UPDATE SKIP LOCKED, so replicas
// share the work and each timer is handled by one of them at a time. A
// reaction decides on the complaint's current history, so firing a timer
// again after a crash appends nothing twice.
type Poller struct {
	pool  *pgxpool.Pool
	r     Reactor
	cfg   PollerConfig
	fired metric.Int64Counter
	fail  metric.Int64Counter
}

// NewPoller returns the poller.
func NewPoller(pool *pgxpool.Pool, r Reactor, cfg PollerConfig) (*Poller, error) {
	if pool == nil || r == nil {
		return nil, errors.New("followup poller: pool and reactor are required")
	}
	if cfg.Batch == 0 {
		cfg.Batch = 64
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 8
	}
	if cfg.Interval == 0 {
		cfg.Interval = 500 * time.Millisecond
	}
	if cfg.RetryMin == 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = 5 * time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MeterProvider == nil {
		cfg.MeterProvider = otel.GetMeterProvider()
	}
	if cfg.Batch < 1 || cfg.Concurrency < 1 || cfg.Interval < 0 || cfg.RetryMin <= 0 || cfg.RetryMax < cfg.RetryMin {
		return nil, fmt.Errorf("followup poller: invalid config %+v", cfg)
	}
	p := &Poller{pool: pool, r: r, cfg: cfg}
	meter := cfg.MeterProvider.Meter("github.com/kesu315/kesu/services/followup/timers")
	var err error
	if p.fired, err = meter.Int64Counter("kesu.followup.timers.fired", metric.WithDescription("Reaction timers carried out, by kind")); err != nil {
		return nil, err
	}
	if p.fail, err = meter.Int64Counter("kesu.followup.timers.failed", metric.WithDescription("Reaction timers that failed and will be tried again, by kind")); err != nil {
		return nil, err
	}
	if _, err = meter.Int64ObservableGauge("kesu.followup.timers.pending",
		metric.WithDescription("Reaction timers not fired yet (due or not)"),
		metric.WithInt64Callback(func(ctx context.Context, o metric.Int64Observer) error {
			n, err := p.Pending(ctx)
			if err == nil {
				o.Observe(int64(n))
			}
			return err
		})); err != nil {
		return nil, err
	}
	return p, nil
}

type dueTimer struct {
	complaintID, kind, ref, shop string
	tries                        int
}

// RunOnce fires the timers due now, up to one batch, and returns how many.
func (p *Poller) RunOnce(ctx context.Context) (int, error) {
	now := p.cfg.Clock.Now()
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	rs, err := tx.Query(ctx, `SELECT complaint_id::text, kind, ref, shop_id, tries FROM `+Schema+`.timers
		WHERE due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED`, now, p.cfg.Batch)
	if err != nil {
		return 0, fmt.Errorf("due timers: %w", err)
	}
	var due []dueTimer
	for rs.Next() {
		var t dueTimer
		if err := rs.Scan(&t.complaintID, &t.kind, &t.ref, &t.shop, &t.tries); err != nil {
			rs.Close()
			return 0, err
		}
		due = append(due, t)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return 0, err
	}
	// Fire concurrently (each decides on its own complaint, conflicts are
	// retried by eventstore.Decide); the row updates then go through the one
	// transaction that holds the locks.
	errs := make([]error, len(due))
	sem := make(chan struct{}, p.cfg.Concurrency)
	var wg sync.WaitGroup
	for i, t := range due {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = p.fire(ctx, t)
		})
	}
	wg.Wait()
	for i, t := range due {
		attr := metric.WithAttributes(attribute.String("kind", t.kind))
		if err := errs[i]; err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			p.fail.Add(ctx, 1, attr)
			wait := p.cfg.RetryMin << min(t.tries, 20)
			wait = min(wait, p.cfg.RetryMax)
			p.cfg.Logger.Warn("reaction failed; it will be tried again", "kind", t.kind, "complaint_id", t.complaintID, "tries", t.tries+1, "err", err)
			msg := err.Error()
			if len(msg) > 500 {
				msg = msg[:500]
			}
			if _, err := tx.Exec(ctx, `UPDATE `+Schema+`.timers SET tries = tries + 1, last_error = $4, due_at = $5
				WHERE complaint_id = $1 AND kind = $2 AND ref = $3`, t.complaintID, t.kind, t.ref, msg, now.Add(wait)); err != nil {
				return 0, err
			}
			continue
		}
		p.fired.Add(ctx, 1, attr)
		if _, err := tx.Exec(ctx, `DELETE FROM `+Schema+`.timers WHERE complaint_id = $1 AND kind = $2 AND ref = $3`,
			t.complaintID, t.kind, t.ref); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	return len(due), nil
}

func (p *Poller) fire(ctx context.Context, t dueTimer) error {
	switch t.kind {
	case TimerSchedule:
		return p.r.Schedule(ctx, t.complaintID, t.ref)
	case TimerReopenContact:
		return p.r.ReopenOnContact(ctx, t.complaintID, t.ref)
	case TimerCloseNoAnswer:
		return p.r.CloseNoAnswer(ctx, t.complaintID, t.ref)
	case TimerErase:
		return p.r.EraseCustomer(ctx, t.shop, t.ref)
	}
	p.cfg.Logger.Error("unknown timer kind; dropped", "kind", t.kind)
	return nil
}

// next is the earliest due time, or zero when there is no timer.
func (p *Poller) next(ctx context.Context) (time.Time, error) {
	var t *time.Time
	err := p.pool.QueryRow(ctx, `SELECT min(due_at) FROM `+Schema+`.timers`).Scan(&t)
	if err != nil || t == nil {
		return time.Time{}, err
	}
	return *t, nil
}

// Pending counts the timers not fired yet (tests, metrics).
func (p *Poller) Pending(ctx context.Context) (int, error) {
	var n int
	err := p.pool.QueryRow(ctx, `SELECT count(*) FROM `+Schema+`.timers`).Scan(&n)
	return n, err
}

// Run fires timers until ctx ends. It sleeps until the earliest due time on
// the service clock, and looks again every Interval of wall time for timers
// the projection added meanwhile.
func (p *Poller) Run(ctx context.Context) error {
	tick := time.NewTicker(p.cfg.Interval)
	defer tick.Stop()
	for {
		n, err := p.RunOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			p.cfg.Logger.Error("timer round failed", "err", err)
		}
		if err == nil && n == p.cfg.Batch {
			continue // a backlog: the next round at once
		}
		var due <-chan time.Time
		var timer clock.Timer
		if next, err := p.next(ctx); err == nil && !next.IsZero() {
			timer = p.cfg.Clock.TimerAt(next)
			due = timer.C()
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		case <-due:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}
