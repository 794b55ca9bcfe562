package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/kesu315/kesu/proto/gen/go/kesu/alerts/v1"
	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/escalation/internal/domain"
	"github.com/kesu315/kesu/services/kit/alerts"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/policy"
)

// PollerConfig sizes the poller; zero fields take the defaults.
type PollerConfig struct {
	// Batch is how many due rows one pass claims; default 256.
	Batch int
	// Workers is how many pass loops Run keeps going; default 4.
	Workers int
	// Concurrency is how many appends run at once within a pass; default 64.
	Concurrency int
	// Interval is the wall-clock fallback between passes when nothing is due
	// (rows written by other replicas); default 250ms.
	Interval time.Duration
	// Retry is how long (service clock) a failed row waits; default 5s, doubled per attempt up to 5m.
	Retry time.Duration
	// OnBreach, when set, sees every breach this poller appended: the due
	// instant and the service-clock instant the append was acknowledged.
	OnBreach func(due, appended time.Time)
	// OnPhase, when set, sees how long each phase of a deadline pass took
	// (claim, load, fire, alerts, update, commit) and how many rows it
	// held: the breakdown the lateness benchmark prints.
	OnPhase func(phase string, rows int, d time.Duration)
	// BeforeCommit, when set, runs after a pass's appends and before its
	// commit; an error rolls the pass back. It is the seam tests use to
	// crash a replica between append and commit.
	BeforeCommit func() error
	Logger       *slog.Logger
	// MeterProvider defaults to the global one.
	MeterProvider metric.MeterProvider
}

type pollerMetrics struct {
	breaches, warnings, reactions, failures metric.Int64Counter
	lateness                                metric.Float64Histogram
}

// Poller fires due deadlines and pending reactions. Rows are claimed with
// SELECT … FOR UPDATE SKIP LOCKED, so replicas share the work without waiting
// on each other; every append goes through eventstore.Decide with ids derived
// from (deadline, generation) and a state check on the refolded history, so a
// row fired twice (a replica crashed after appending, before committing)
// appends once.
type Poller struct {
	pool   *pgxpool.Pool
	store  eventstore.Log
	js     jetstream.JetStream
	policy *policy.Policy
	clock  clock.Clock
	cfg    PollerConfig
	log    *slog.Logger
	m      pollerMetrics
}

// NewPoller returns a poller.
func NewPoller(pool *pgxpool.Pool, store eventstore.Log, js jetstream.JetStream, p *policy.Policy, c clock.Clock, cfg PollerConfig) *Poller {
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 250 * time.Millisecond
	}
	if cfg.Retry <= 0 {
		cfg.Retry = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	mp := cfg.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter("github.com/kesu315/kesu/services/escalation")
	var m pollerMetrics
	// Instrument creation fails only on invalid names; a nil-safe no-op is fine then.
	m.breaches, _ = meter.Int64Counter("kesu.escalation.breaches", metric.WithDescription("breaches appended (DeadlineBreached or PromiseBroken)"))
	m.warnings, _ = meter.Int64Counter("kesu.escalation.warnings", metric.WithDescription("at-risk warnings appended"))
	m.reactions, _ = meter.Int64Counter("kesu.escalation.reactions", metric.WithDescription("reactions handled (ladder evaluations, alerts)"))
	m.failures, _ = meter.Int64Counter("kesu.escalation.fire_failures", metric.WithDescription("rows whose pass failed and will be retried"))
	m.lateness, _ = meter.Float64Histogram("kesu.escalation.breach_lateness", metric.WithUnit("s"),
		metric.WithDescription("service-clock seconds from a deadline's due instant to its breach's append"))
	return &Poller{pool: pool, store: store, js: js, policy: p, clock: c, cfg: cfg, log: cfg.Logger, m: m}
}

// Run polls until ctx ends with Workers loops: a pass, then a wait for the
// next due instant on the service clock, a NOTIFY from the projection, or
// the wall interval. The loops claim disjoint rows (SKIP LOCKED), so a slow
// pass does not hold back rows falling due meanwhile.
func (p *Poller) Run(ctx context.Context) error {
	wakes := make([]chan struct{}, p.cfg.Workers)
	for i := range wakes {
		wakes[i] = make(chan struct{}, 1)
	}
	go p.listen(ctx, wakes)
	var wg sync.WaitGroup
	for _, w := range wakes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.loop(ctx, w)
		}()
	}
	wg.Wait()
	return nil
}

func (p *Poller) loop(ctx context.Context, wake <-chan struct{}) {
	for ctx.Err() == nil {
		n, err := p.PollOnce(ctx)
		if err != nil && ctx.Err() == nil {
			p.log.Warn("poll pass failed", "err", err)
		}
		if n >= p.cfg.Batch {
			continue
		}
		next, err := p.nextFire(ctx)
		if err != nil && ctx.Err() == nil {
			p.log.Warn("next deadline", "err", err)
		}
		var tc <-chan time.Time
		var timer clock.Timer
		if !next.IsZero() {
			timer = p.clock.TimerAt(next)
			tc = timer.C()
		}
		wall := time.NewTimer(p.cfg.Interval)
		select {
		case <-ctx.Done():
		case <-tc:
		case <-wake:
		case <-wall.C:
		}
		wall.Stop()
		if timer != nil {
			timer.Stop()
		}
	}
}

// listen turns the projection's NOTIFY into a wake-up.
func (p *Poller) listen(ctx context.Context, wakes []chan struct{}) {
	for ctx.Err() == nil {
		conn, err := p.pool.Acquire(ctx)
		if err != nil {
			return
		}
		if _, err = conn.Exec(ctx, `LISTEN escalation_reactions`); err == nil {
			for {
				if _, err = conn.Conn().WaitForNotification(ctx); err != nil {
					break
				}
				for _, w := range wakes {
					select {
					case w <- struct{}{}:
					default:
					}
				}
			}
		}
		conn.Hijack().Close(context.Background()) //nolint:errcheck // a LISTENing session must not return to the pool
		if ctx.Err() == nil {
			_ = clock.SleepUntil(ctx, clock.Wall(), time.Now().Add(time.Second))
		}
	}
}

func (p *Poller) nextFire(ctx context.Context) (time.Time, error) {
	var t *time.Time
	err := p.pool.QueryRow(ctx, `SELECT least((SELECT min(fire_at) FROM escalation.deadlines WHERE fire_at IS NOT NULL),
		(SELECT min(fire_at) FROM escalation.reactions WHERE fire_at IS NOT NULL))`).Scan(&t)
	return deref(t), err
}

// PollOnce runs one pass: due deadlines, then pending reactions. It returns
// how many rows it handled. Tests drive the poller with it on a Manual clock.
func (p *Poller) PollOnce(ctx context.Context) (int, error) {
	n1, err1 := p.fireDeadlines(ctx)
	n2, err2 := p.runReactions(ctx)
	return n1 + n2, errors.Join(err1, err2)
}

type dueRow struct {
	id, complaint, shop, clock, key string
	gen                             int64
	status                          string
	warn, due, stopped              time.Time
	warned                          bool
	attempts                        int
}

type dueResult struct {
	fireAt   *time.Time
	warned   bool
	status   string
	breached *time.Time
	attempts int
	lastErr  string
}

func (p *Poller) fireDeadlines(ctx context.Context) (int, error) {
	mark := time.Now()
	var nrows int
	phase := func(name string) {
		if p.cfg.OnPhase != nil {
			now := time.Now()
			p.cfg.OnPhase(name, nrows, now.Sub(mark))
			mark = now
		}
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after commit this is a no-op
	now := p.clock.Now()
	rows, err := tx.Query(ctx, `SELECT deadline_id::text, complaint_id, shop_id, clock, key, generation, status,
			warn_at, due_at, stopped_at, warned, attempts
		FROM escalation.deadlines WHERE fire_at <= $1 ORDER BY fire_at LIMIT $2 FOR UPDATE SKIP LOCKED`, now, p.cfg.Batch)
	if err != nil {
		return 0, err
	}
	var due []dueRow
	for rows.Next() {
		var r dueRow
		var warn, dueAt, stopped *time.Time
		if err := rows.Scan(&r.id, &r.complaint, &r.shop, &r.clock, &r.key, &r.gen, &r.status, &warn, &dueAt, &stopped, &r.warned, &r.attempts); err != nil {
			rows.Close()
			return 0, err
		}
		r.warn, r.due, r.stopped = deref(warn), deref(dueAt), deref(stopped)
		due = append(due, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(due) == 0 {
		return 0, tx.Commit(ctx)
	}
	nrows = len(due)
	phase("claim")
	results := make([]dueResult, len(due))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.cfg.Concurrency)
	complaints := make([]string, 0, len(due))
	for _, r := range due {
		complaints = append(complaints, r.complaint)
	}
	known, err := loadComplaints(ctx, tx, complaints, false)
	if err != nil {
		return 0, err
	}
	phase("load")
	sink := &alertSink{}
	for i := range due {
		g.Go(func() error {
			results[i] = p.fireOne(gctx, due[i], now, sink, known[due[i].complaint])
			return nil
		})
	}
	_ = g.Wait()
	phase("fire")
	p.flush(ctx, sink)
	phase("alerts")
	ids := make([]string, len(due))
	fire := make([]*time.Time, len(due))
	warned := make([]bool, len(due))
	status := make([]string, len(due))
	breached := make([]*time.Time, len(due))
	attempts := make([]int32, len(due))
	lastErr := make([]string, len(due))
	for i, r := range results {
		ids[i], fire[i], warned[i], status[i], breached[i] = due[i].id, r.fireAt, r.warned, r.status, r.breached
		attempts[i], lastErr[i] = int32(r.attempts), r.lastErr
	}
	if _, err := tx.Exec(ctx, `UPDATE escalation.deadlines d SET fire_at = u.fire_at, warned = u.warned, status = u.status,
			breached_at = COALESCE(u.breached_at, d.breached_at), attempts = u.attempts, last_error = u.last_error
		FROM unnest($1::uuid[], $2::timestamptz[], $3::bool[], $4::text[], $5::timestamptz[], $6::int[], $7::text[])
			AS u(id, fire_at, warned, status, breached_at, attempts, last_error)
		WHERE d.deadline_id = u.id`, ids, fire, warned, status, breached, attempts, lastErr); err != nil {
		return 0, err
	}
	phase("update")
	if p.cfg.BeforeCommit != nil {
		if err := p.cfg.BeforeCommit(); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	phase("commit")
	return len(due), nil
}

// fireOne handles one claimed row; its result is what the row becomes.
func (p *Poller) fireOne(ctx context.Context, r dueRow, now time.Time, sink *alertSink, known *domain.Complaint) dueResult {
	res := dueResult{fireAt: nil, warned: r.warned, status: r.status}
	running := r.status == string(domain.ClockRunning)
	late := !r.due.IsZero() && !now.Before(r.due) &&
		(running || ((r.status == string(domain.ClockStopped) || r.status == string(domain.ClockPaused)) && r.stopped.After(r.due)))
	var err error
	switch {
	case late:
		err = p.breach(ctx, r, now, &res, sink, known)
	case running && !r.warned && !r.warn.IsZero() && !now.Before(r.warn):
		err = p.warn(ctx, r, now, &res, sink)
	case running:
		t := r.due
		if !r.warned && r.warn.After(now) {
			t = r.warn
		}
		res.fireAt = &t
	}
	if err != nil {
		res.attempts = r.attempts + 1
		res.lastErr = err.Error()
		wait := min(p.cfg.Retry<<min(r.attempts, 6), 5*time.Minute)
		t := now.Add(wait)
		res.fireAt = &t
		// A pass cut short by a stop is no failure: its transaction rolls
		// back and the next start fires the row.
		if ctx.Err() == nil {
			p.m.failures.Add(ctx, 1)
			p.log.Warn("deadline not fired; retrying", "deadline", r.id, "complaint", r.complaint, "attempt", res.attempts, "err", err)
		}
	}
	return res
}

// history loads and folds a complaint with the current policy.
func (p *Poller) fold(complaintID string, recs []eventstore.Record) (*domain.Complaint, error) {
	evs, err := events.DecodeAll(recs)
	if err != nil {
		return nil, err
	}
	seqs := make([]uint64, len(recs))
	for i, r := range recs {
		seqs[i] = r.StreamSeq
	}
	return domain.Fold(complaintID, evs, seqs, p.policy), nil
}

func (p *Poller) encode(c *domain.Complaint, decs []domain.Decision, occurred, now time.Time, cause string) ([]eventstore.Event, error) {
	out := make([]eventstore.Event, 0, len(decs))
	for _, d := range decs {
		ev, err := events.New(events.Envelope{
			ComplaintID: c.ID, ShopID: c.ShopID, OccurredAt: occurred, RecordedAt: now,
			Actor:         &complaintv1.Actor{Kind: complaintv1.ActorKind_ACTOR_KIND_SYSTEM, Id: "escalation"},
			CorrelationID: cause, CausationID: cause,
		}, d.Payload)
		if err != nil {
			return nil, err
		}
		ev.EventId = d.ID
		e, err := events.Encode(ev)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func hasEvent(recs []eventstore.Record, id string) bool {
	for _, r := range recs {
		if r.ID == id {
			return true
		}
	}
	return false
}

func (p *Poller) breach(ctx context.Context, r dueRow, now time.Time, res *dueResult, sink *alertSink, known *domain.Complaint) error {
	var c *domain.Complaint
	var already, stale bool
	decide := func(cur *domain.Complaint) ([]eventstore.Event, error) {
		c, already, stale = cur, false, false
		cl := c.ClockByID(r.id)
		switch {
		case cl == nil || cl.Generation != r.gen:
			stale = true
			return nil, nil
		case cl.Status == domain.ClockBreached:
			already = true
			return nil, nil
		}
		return p.encode(c, domain.Breach(c, p.policy, r.id, r.gen, r.due, now), r.due, now, r.id)
	}
	// Fast path: decide on the projection's state and append expecting the
	// sequence it has seen. If the complaint moved on since, the append
	// conflicts and the full load-refold-decide below runs; if it lands, the
	// decision was made on exactly the history it extends. This saves a
	// history load per breach in the common case.
	var recs []eventstore.Record
	if known != nil && known.LastSeq > 0 {
		evs, err := decide(known)
		if err != nil {
			return err
		}
		if len(evs) > 0 {
			app, err := p.store.Append(ctx, r.complaint, known.LastSeq, evs...)
			switch {
			case err == nil:
				recs = make([]eventstore.Record, len(app.Seqs))
			case !errors.Is(err, eventstore.ErrConflict):
				return err
			}
		}
	}
	var err error
	if recs == nil {
		recs, err = eventstore.Decide(ctx, p.store, r.complaint, func(history []eventstore.Record) ([]eventstore.Event, error) {
			cur, err := p.fold(r.complaint, history)
			if err != nil {
				return nil, err
			}
			return decide(cur)
		}, eventstore.DecideOptions{})
	}
	if err != nil {
		return err
	}
	switch {
	case len(recs) > 0:
		p.breached(ctx, r.due)
	case stale:
		// The projection has not caught up with a restart or a response yet;
		// it rewrites the row when it does. Look again shortly meanwhile.
		t := now.Add(p.cfg.Retry)
		res.fireAt = &t
		return nil
	case !already:
		// Stopped in time after all (the row lagged the history).
		res.status = string(domain.ClockStopped)
		return nil
	}
	res.status, res.breached, res.warned = string(domain.ClockBreached), &now, true
	sink.add(p.breachAlert(c, r, now))
	return nil
}

func (p *Poller) warn(ctx context.Context, r dueRow, now time.Time, res *dueResult, sink *alertSink) error {
	var c *domain.Complaint
	var stale bool
	recs, err := eventstore.Decide(ctx, p.store, r.complaint, func(history []eventstore.Record) ([]eventstore.Event, error) {
		var err error
		if c, err = p.fold(r.complaint, history); err != nil {
			return nil, err
		}
		cl := c.ClockByID(r.id)
		stale = cl == nil || cl.Generation != r.gen
		return p.encode(c, domain.Warn(c, r.id, r.gen, r.due), r.warn, now, r.id)
	}, eventstore.DecideOptions{})
	if err != nil {
		return err
	}
	if stale {
		t := now.Add(p.cfg.Retry)
		res.fireAt = &t
		return nil
	}
	res.warned = true
	if len(recs) > 0 {
		p.m.warnings.Add(ctx, 1)
	}
	due := r.due
	res.fireAt = &due
	if cl := c.ClockByID(r.id); cl != nil && cl.Status == domain.ClockRunning || len(recs) > 0 {
		sink.add(p.alert(alertsv1.AlertKind_ALERT_KIND_AT_RISK, c, r, now,
			fmt.Sprintf("%s 即将超时（%s 到期）", domain.ClockZh(policy.Clock(r.clock)), localTime(p.policy, r.shop, r.due)),
			fmt.Sprintf("%s deadline at risk (due %s)", r.clock, localTime(p.policy, r.shop, r.due)), r.id, fmt.Sprint(r.gen)))
	}
	return nil
}

func localTime(p *policy.Policy, shop string, t time.Time) string {
	if sh, ok := p.Shop(shop); ok && sh.Location != nil {
		t = t.In(sh.Location)
	}
	return t.Format("2006-01-02 15:04:05 MST")
}

func (p *Poller) alert(kind alertsv1.AlertKind, c *domain.Complaint, r dueRow, now time.Time, zh, en string, cause ...string) *alertsv1.Alert {
	a := &alertsv1.Alert{
		AlertId: alerts.ID(kind, cause...), Kind: kind, ShopId: r.shop, ComplaintId: r.complaint,
		Clock: domain.ClockEnum(policy.Clock(r.clock)), DueAt: timestamppb.New(r.due), RaisedAt: timestamppb.New(now),
		SummaryZh: zh, SummaryEn: en, Source: "escalation",
	}
	if c != nil {
		a.Severity = domain.SeverityEnum(c.Severity)
		a.Level = domain.LevelEnum(p.policy, c.CurrentLevel(p.policy))
		a.Category = c.Category
	}
	return a
}

func (p *Poller) breachAlert(c *domain.Complaint, r dueRow, now time.Time) *alertsv1.Alert {
	g := fmt.Sprint(r.gen)
	kind := alertsv1.AlertKind_ALERT_KIND_BREACHED
	zh := fmt.Sprintf("%s 已超时（%s 到期）", domain.ClockZh(policy.Clock(r.clock)), localTime(p.policy, r.shop, r.due))
	en := fmt.Sprintf("%s deadline breached (due %s)", r.clock, localTime(p.policy, r.shop, r.due))
	if r.clock == string(policy.ClockPromise) {
		kind = alertsv1.AlertKind_ALERT_KIND_PROMISE_BROKEN
		zh = fmt.Sprintf("坐席承诺未兑现（%s 到期）", localTime(p.policy, r.shop, r.due))
		en = fmt.Sprintf("an agent's promise was broken (due %s)", localTime(p.policy, r.shop, r.due))
	}
	return p.alert(kind, c, r, now, zh, en, r.id, g)
}

// alertSink collects a pass's alerts, published together before the pass
// commits: one wait for all acks instead of a round trip per row.
type alertSink struct {
	mu   sync.Mutex
	list []*alertsv1.Alert
}

func (s *alertSink) add(as ...*alertsv1.Alert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, as...)
}

// flush publishes the pass's alerts. A lost alert is logged, not retried:
// the events carry the truth, and the alert ids make a republish harmless.
func (p *Poller) flush(ctx context.Context, s *alertSink) {
	type sent struct {
		a *alertsv1.Alert
		f jetstream.PubAckFuture
	}
	var futures []sent
	for _, a := range s.list {
		f, err := alerts.PublishAsync(p.js, a)
		if err != nil {
			p.log.Warn("alert not published", "kind", a.GetKind().String(), "complaint", a.GetComplaintId(), "err", err)
			continue
		}
		futures = append(futures, sent{a, f})
	}
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for _, x := range futures {
		select {
		case <-x.f.Ok():
		case err := <-x.f.Err():
			p.log.Warn("alert not published", "kind", x.a.GetKind().String(), "complaint", x.a.GetComplaintId(), "err", err)
		case <-timeout.C:
			p.log.Warn("alert acks timed out", "alerts", len(futures))
			return
		case <-ctx.Done():
			return
		}
	}
}

func (p *Poller) publish(ctx context.Context, as []*alertsv1.Alert) {
	s := &alertSink{}
	s.add(as...)
	p.flush(ctx, s)
}

type reactionRow struct {
	id, complaint, shop, kind string
	body                      []byte
	attempts                  int
}

func (p *Poller) runReactions(ctx context.Context) (int, error) {
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after commit this is a no-op
	now := p.clock.Now()
	rows, err := tx.Query(ctx, `SELECT reaction_id::text, complaint_id, shop_id, kind, body, attempts
		FROM escalation.reactions WHERE fire_at <= $1 ORDER BY fire_at LIMIT $2 FOR UPDATE SKIP LOCKED`, now, p.cfg.Batch)
	if err != nil {
		return 0, err
	}
	rs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (reactionRow, error) {
		var r reactionRow
		err := row.Scan(&r.id, &r.complaint, &r.shop, &r.kind, &r.body, &r.attempts)
		return r, err
	})
	if err != nil {
		return 0, err
	}
	if len(rs) == 0 {
		return 0, tx.Commit(ctx)
	}
	// The complaints the ladder moves, as the projection has them: the fast
	// path of escalate decides on them.
	var moving []string
	for _, r := range rs {
		if r.kind == string(domain.ReactEscalate) && r.complaint != "" {
			moving = append(moving, r.complaint)
		}
	}
	known, err := loadComplaints(ctx, tx, moving, false)
	if err != nil {
		return 0, err
	}
	var mu sync.Mutex
	ids := make([]string, len(rs))
	fire := make([]*time.Time, len(rs))
	attempts := make([]int32, len(rs))
	lastErr := make([]string, len(rs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.cfg.Concurrency)
	for i := range rs {
		g.Go(func() error {
			err := p.react(gctx, rs[i], now, known[rs[i].complaint])
			p.m.reactions.Add(gctx, 1)
			mu.Lock()
			defer mu.Unlock()
			ids[i], attempts[i] = rs[i].id, int32(rs[i].attempts)
			if err != nil {
				t := now.Add(min(p.cfg.Retry<<min(rs[i].attempts, 6), 5*time.Minute))
				fire[i], attempts[i], lastErr[i] = &t, attempts[i]+1, err.Error()
				if ctx.Err() == nil { // a stop cuts a pass short; it is rolled back
					p.log.Warn("reaction failed; retrying", "reaction", rs[i].id, "kind", rs[i].kind, "err", err)
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	if _, err := tx.Exec(ctx, `UPDATE escalation.reactions r SET fire_at = u.fire_at, attempts = u.attempts, last_error = u.last_error
		FROM unnest($1::uuid[], $2::timestamptz[], $3::int[], $4::text[]) AS u(id, fire_at, attempts, last_error)
		WHERE r.reaction_id = u.id`, ids, fire, attempts, lastErr); err != nil {
		return 0, err
	}
	return len(rs), tx.Commit(ctx)
}

func (p *Poller) react(ctx context.Context, row reactionRow, now time.Time, known *domain.Complaint) error {
	var r domain.Reaction
	if err := json.Unmarshal(row.body, &r); err != nil {
		return fmt.Errorf("reaction body: %w", err)
	}
	switch r.Kind {
	case domain.ReactMajorArrived:
		sev := policy.Severity(r.Severity).DisplayName()
		p.publish(ctx, []*alertsv1.Alert{{
			AlertId: alerts.ID(alertsv1.AlertKind_ALERT_KIND_MAJOR_ARRIVED, r.ID), Kind: alertsv1.AlertKind_ALERT_KIND_MAJOR_ARRIVED,
			ShopId: r.ShopID, ComplaintId: r.ComplaintID, Severity: domain.SeverityEnum(r.Severity), Category: r.Category,
			RaisedAt: timestamppb.New(now), Source: "escalation",
			SummaryZh: fmt.Sprintf("%s客诉到达（%s）", sev.ZhCN, r.Category), SummaryEn: fmt.Sprintf("%s complaint arrived (%s)", sev.En, r.Category),
		}})
		return nil
	case domain.ReactSpike:
		what, whatEn := "类目 "+r.Category, "category "+r.Category
		if r.Product != "" {
			what, whatEn = "商品 "+r.Product, "product "+r.Product
		}
		p.publish(ctx, []*alertsv1.Alert{{
			AlertId: alerts.ID(alertsv1.AlertKind_ALERT_KIND_SPIKE, r.ID), Kind: alertsv1.AlertKind_ALERT_KIND_SPIKE,
			ShopId: r.ShopID, Category: r.Category, Product: r.Product, Count: r.Count, Baseline: r.Baseline,
			RaisedAt: timestamppb.New(now), Source: "escalation",
			SummaryZh: fmt.Sprintf("%s 客诉激增：%d 件（基线 %d）", what, r.Count, r.Baseline),
			SummaryEn: fmt.Sprintf("filings spike for %s: %d (baseline %d)", whatEn, r.Count, r.Baseline),
		}})
		return nil
	case domain.ReactEscalate:
		return p.escalate(ctx, r, now, known)
	case domain.ReactLateBreach:
		return p.lateBreach(ctx, r, now)
	}
	return fmt.Errorf("unknown reaction kind %q", r.Kind)
}

// lateBreach appends the breach of a clock generation a restart superseded
// before the poller fired it. The breach's id is the one the poller would
// have used, so whichever of the two got there first is the only one.
func (p *Poller) lateBreach(ctx context.Context, r domain.Reaction, now time.Time) error {
	late := r.Late
	if late == nil {
		return errors.New("late_breach reaction without its clock")
	}
	g := fmt.Sprint(late.Generation)
	var c *domain.Complaint
	recs, err := eventstore.Decide(ctx, p.store, r.ComplaintID, func(history []eventstore.Record) ([]eventstore.Event, error) {
		if hasEvent(history, domain.DerivedID("breach", late.ID, g)) || hasEvent(history, domain.DerivedID("promise_broken", late.ID, g)) {
			return nil, nil
		}
		var err error
		if c, err = p.fold(r.ComplaintID, history); err != nil {
			return nil, err
		}
		return p.encode(c, domain.LateBreach(c, p.policy, late, now), late.Due, now, late.ID)
	}, eventstore.DecideOptions{})
	if err != nil || len(recs) == 0 {
		return err
	}
	row := dueRow{id: late.ID, complaint: r.ComplaintID, shop: r.ShopID, clock: string(late.Clock), key: late.Key,
		gen: late.Generation, due: late.Due}
	p.breached(ctx, late.Due)
	p.publish(ctx, []*alertsv1.Alert{p.breachAlert(c, row, now)})
	return nil
}

// breached counts a breach this poller appended, due at due, and how late it was.
func (p *Poller) breached(ctx context.Context, due time.Time) {
	at := p.clock.Now()
	if p.cfg.OnBreach != nil {
		p.cfg.OnBreach(due, at)
	}
	p.m.breaches.Add(ctx, 1)
	p.m.lateness.Record(ctx, at.Sub(due).Seconds())
}

func (p *Poller) escalate(ctx context.Context, r domain.Reaction, now time.Time, known *domain.Complaint) error {
	var step *domain.Step
	var c *domain.Complaint
	id := domain.DerivedID("escalated", r.ID)
	// Fast path, as for breaches: a complaint the projection holds at the
	// cause's own sequence has had nothing appended since the cause, so this
	// escalation is not stored yet and the projection's state is its whole
	// history. Append expecting that sequence; anything appended meanwhile
	// makes it conflict and the full load-refold-decide below runs.
	var recs []eventstore.Record
	if known != nil && r.CauseSeq > 0 && known.LastSeq == r.CauseSeq {
		decs, st := domain.Escalate(known, p.policy, r)
		if len(decs) > 0 {
			evs, err := p.encode(known, decs, r.At, now, r.CauseEvent)
			if err != nil {
				return err
			}
			app, err := p.store.Append(ctx, r.ComplaintID, known.LastSeq, evs...)
			switch {
			case err == nil:
				recs, step, c = make([]eventstore.Record, len(app.Seqs)), st, known
			case !errors.Is(err, eventstore.ErrConflict):
				return err
			}
		}
	}
	if recs == nil {
		var err error
		recs, err = eventstore.Decide(ctx, p.store, r.ComplaintID, func(history []eventstore.Record) ([]eventstore.Event, error) {
			step = nil
			if hasEvent(history, id) {
				return nil, nil
			}
			var err error
			if c, err = p.fold(r.ComplaintID, history); err != nil {
				return nil, err
			}
			decs, st := domain.Escalate(c, p.policy, r)
			step = st
			return p.encode(c, decs, r.At, now, r.CauseEvent)
		}, eventstore.DecideOptions{})
		if err != nil {
			return err
		}
	}
	if len(recs) == 0 || step == nil || !step.Alert {
		return nil
	}
	p.publish(ctx, []*alertsv1.Alert{{
		AlertId: alerts.ID(alertsv1.AlertKind_ALERT_KIND_ESCALATED, id), Kind: alertsv1.AlertKind_ALERT_KIND_ESCALATED,
		ShopId: r.ShopID, ComplaintId: r.ComplaintID, Severity: domain.SeverityEnum(c.Severity),
		Level: domain.LevelEnum(p.policy, step.To.ID), Queue: step.To.Queue, Category: c.Category,
		RaisedAt: timestamppb.New(now), Source: "escalation",
		SummaryZh: fmt.Sprintf("升级：%s → %s", step.From.Name.ZhCN, step.To.Name.ZhCN),
		SummaryEn: fmt.Sprintf("escalated: %s → %s", step.From.Name.En, step.To.Name.En),
	}})
	return nil
}
