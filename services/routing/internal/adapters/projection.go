// Package adapters connects routing to NATS and PostgreSQL: the projection
// (routing.items, routing.agent_load) with its reactor, the roster table,
// the read side, and the wiring of the binary.
package adapters

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/metric"
	"golang.org/x/sync/errgroup"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	routingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/routing/v1"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/services/routing/internal/app"
	"github.com/kesu315/kesu/services/routing/internal/domain"
)

// Schema is the Postgres schema routing owns (DESIGN.md §4).
const Schema = "routing"

// ProjectionName is the durable consumer and checkpoint name of the projection.
const ProjectionName = "routing-work"

// noDeadline stands for "no running deadline" so the ordering column is NOT
// NULL and sorts last.
var noDeadline = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// row is one complaint of routing.items, in the table's column order.
type row struct {
	ComplaintID     string
	ShopID          string
	Channel         int16
	Category        string
	Severity        int16
	SevRank         int16
	VIP             bool
	AmountFen       int64
	Queue           string
	TierRequired    int16
	Priority        int32
	Rule            string
	RouteReason     string
	Status          int16
	Owner           string
	PreviousOwner   string
	TransferCount   int32
	Contacts        int32
	FiledAt         time.Time
	AssignedAt      *time.Time
	FirstResponseAt *time.Time
	DueAt           time.Time
	WarnAt          time.Time
	Started         bool
	PendingRemedies int32
	LastSeq         int64
	UpdatedAt       time.Time
	State           []byte
}

var columns = []string{
	"complaint_id", "shop_id", "channel", "category", "severity", "sev_rank", "vip", "amount_fen", "queue",
	"tier_required", "priority", "rule", "route_reason", "status", "owner", "previous_owner", "transfer_count",
	"contacts", "filed_at", "assigned_at", "first_response_at", "due_at", "warn_at", "started", "pending_remedies",
	"last_seq", "updated_at", "state",
}

func (r *row) values() []any {
	return []any{
		r.ComplaintID, r.ShopID, r.Channel, r.Category, r.Severity, r.SevRank, r.VIP, r.AmountFen, r.Queue,
		r.TierRequired, r.Priority, r.Rule, r.RouteReason, r.Status, r.Owner, r.PreviousOwner, r.TransferCount,
		r.Contacts, r.FiledAt, r.AssignedAt, r.FirstResponseAt, r.DueAt, r.WarnAt, r.Started, r.PendingRemedies,
		r.LastSeq, r.UpdatedAt, string(r.State),
	}
}

func (r *row) scanTargets() []any {
	return []any{
		&r.ComplaintID, &r.ShopID, &r.Channel, &r.Category, &r.Severity, &r.SevRank, &r.VIP, &r.AmountFen, &r.Queue,
		&r.TierRequired, &r.Priority, &r.Rule, &r.RouteReason, &r.Status, &r.Owner, &r.PreviousOwner, &r.TransferCount,
		&r.Contacts, &r.FiledAt, &r.AssignedAt, &r.FirstResponseAt, &r.DueAt, &r.WarnAt, &r.Started, &r.PendingRemedies,
		&r.LastSeq, &r.UpdatedAt, &r.State,
	}
}

func statusOf(s domain.Status) int16 {
	switch s {
	case domain.StatusOpen:
		return int16(routingv1.WorkStatus_WORK_STATUS_OPEN)
	case domain.StatusResolved:
		return int16(routingv1.WorkStatus_WORK_STATUS_RESOLVED)
	case domain.StatusClosed:
		return int16(routingv1.WorkStatus_WORK_STATUS_CLOSED)
	}
	return 0
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// rowOf renders a work state as its row. Deadlines come from the policy the
// way escalation computes them; a rebuild under the same policy gives the
// same row.
func rowOf(w *domain.Work, pol *policy.Policy) (*row, error) {
	state, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	due, warn := noDeadline, noDeadline
	if w.Status == domain.StatusOpen {
		if d, wn := w.Deadline(pol); !d.IsZero() {
			due, warn = d.UTC(), wn.UTC()
		}
	}
	return &row{
		ComplaintID: w.ComplaintID, ShopID: w.ShopID, Channel: int16(w.Channel), Category: w.Category,
		Severity: int16(w.Severity), SevRank: 4 - int16(w.Severity), VIP: w.VIP, AmountFen: w.AmountFen, Queue: w.Queue,
		TierRequired: int16(w.Tier), Priority: int32(w.Priority), Rule: w.Rule, RouteReason: w.RouteReason,
		Status: statusOf(w.Status), Owner: w.Owner, PreviousOwner: w.PreviousOwner, TransferCount: int32(w.TransferCount),
		Contacts: int32(w.Contacts), FiledAt: w.FiledAt.UTC(), AssignedAt: optTime(w.AssignedAt),
		FirstResponseAt: optTime(w.FirstResponseAt), DueAt: due, WarnAt: warn, Started: w.Started,
		PendingRemedies: int32(w.PendingRemedies()), LastSeq: int64(w.LastSeq), UpdatedAt: w.UpdatedAt.UTC(), State: state,
	}, nil
}

func (r *row) work() (*domain.Work, error) {
	w := &domain.Work{}
	if err := json.Unmarshal(r.State, w); err != nil {
		return nil, fmt.Errorf("complaint %s state: %w", r.ComplaintID, err)
	}
	return w, nil
}

// queueKey is where an open complaint counts in routing.queue_counts.
type queueKey struct {
	queue, shop string
	waiting     bool
}

func queueKeyOf(w *domain.Work) queueKey {
	if w == nil || w.Status != domain.StatusOpen || w.Queue == "" {
		return queueKey{}
	}
	return queueKey{queue: w.Queue, shop: w.ShopID, waiting: w.Owner == ""}
}

func holderOf(w *domain.Work) string {
	if w == nil || w.Status != domain.StatusOpen {
		return ""
	}
	return w.Owner
}

// Reactor is what the projection calls for events routing reacts to.
type Reactor interface {
	React(ctx context.Context, cause *complaintv1.Event, pool *domain.Pool) ([]*complaintv1.Event, uint64, error)
}

// stateReactor is a Reactor that can decide on the projection's state of a
// complaint first (app.Service.Prepare), saving a history load per reaction
// and letting a batch's appends run concurrently.
type stateReactor interface {
	Prepare(cause *complaintv1.Event, known *domain.Work, before domain.Status, pool *domain.Pool) *app.Prepared
	AppendPrepared(ctx context.Context, pr *app.Prepared) (out []*complaintv1.Event, seqs []uint64, retry bool, err error)
	Tail(ctx context.Context, complaintID string, after uint64) ([]eventstore.Record, error)
	CarryForward(known *domain.Work, tail []eventstore.Record) (*domain.Work, error)
}

// appendConcurrency bounds a batch's reactions in flight: each append waits
// on a round trip (and an fsync or a replication), and JetStream keeps each
// complaint's order by its expected sequence, so they need not wait on each
// other.
const appendConcurrency = 32

// trigger is an event routing reacts to, with the complaint's status just
// before it (what a reaction to a repeat contact depends on).
type trigger struct {
	ev     *complaintv1.Event
	before domain.Status
}

// PoolSource loads the roster with loads inside the projection's transaction.
type PoolSource interface {
	PoolTx(ctx context.Context, tx pgx.Tx) (*domain.Pool, error)
}

// Projection keeps routing.items and routing.agent_load, and on the live
// path reacts to events (routing, re-routing, sticky and automatic
// assignment). Reacting inside the batch's transaction means the loads the
// assignment reads include every event applied so far: one projection leader
// (kit/projection's advisory lock) decides, so two reactions never count the
// same free slot twice.
type Projection struct {
	policy  *policy.Policy
	reactor Reactor
	pools   PoolSource
	log     *slog.Logger

	mu sync.Mutex
	// pending are assignments the reactor appended that the projection has
	// not folded yet: complaint → agent and the sequence of the event.
	pending map[string]pendingAssign
	// folded are the pending assignments the batch being applied folded
	// into its rows: no longer pending once it commits (Committed).
	folded []foldedAssign

	staged map[string]*domain.Work // rebuild only
	order  []string

	m *projectionMetrics // nil: none
}

// SetMeterProvider has the projection report where its batches' time goes
// and how its reactions were decided.
func (p *Projection) SetMeterProvider(mp metric.MeterProvider) error {
	m, err := newProjectionMetrics(mp)
	if err != nil {
		return err
	}
	p.m = m
	return nil
}

type pendingAssign struct {
	agent string
	seq   uint64
}

type foldedAssign struct {
	id  string
	seq uint64
}

// NewProjection returns the projection; with a nil reactor it only projects.
func NewProjection(pol *policy.Policy, reactor Reactor, pools PoolSource, log *slog.Logger) *Projection {
	if log == nil {
		log = slog.Default()
	}
	return &Projection{policy: pol, reactor: reactor, pools: pools, log: log, pending: map[string]pendingAssign{}}
}

// Apply folds a batch into the rows it touches (two round trips), moves
// the agents' loads, then runs the reactions of the batch and folds what
// they appended into the same rows before the batch commits.
func (p *Projection) Apply(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
	p.mu.Lock()
	p.folded = p.folded[:0] // a batch that did not commit left its assignments pending
	p.mu.Unlock()
	ids := make([]string, 0, len(recs))
	seen := map[string]bool{}
	for _, r := range recs {
		if !seen[r.ComplaintID] {
			seen[r.ComplaintID] = true
			ids = append(ids, r.ComplaintID)
		}
	}
	began := time.Now()
	works, err := loadWorks(ctx, tx, ids)
	if err != nil {
		return err
	}
	was := snapshot(works)
	var triggers []trigger
	touched := map[string]bool{}
	p.mu.Lock()
	for _, rec := range recs {
		ev, err := events.Decode(rec)
		if err != nil {
			p.mu.Unlock()
			return err
		}
		w := works[rec.ComplaintID]
		if w == nil {
			w = &domain.Work{}
		}
		before, last := w.Status, w.LastSeq
		w.Evolve(ev, rec.StreamSeq)
		if pa, ok := p.pending[rec.ComplaintID]; ok && rec.StreamSeq >= pa.seq {
			delete(p.pending, rec.ComplaintID)
		}
		if !w.Exists() || w.LastSeq == last {
			// Not a complaint yet, or a reaction of ours this projection
			// folded when it appended it: nothing moved. (A reaction's
			// unassignment is followed in the same append by the placement
			// reacting to it would decide, so it is not reacted to again.)
			continue
		}
		works[rec.ComplaintID] = w
		touched[rec.ComplaintID] = true
		if p.reactor != nil && app.Triggers(ev) {
			triggers = append(triggers, trigger{ev: ev, before: before})
		}
	}
	p.mu.Unlock()
	p.m.since(ctx, "fold", began)
	began = time.Now()
	if err := p.write(ctx, tx, ids, works, was, touched); err != nil {
		return err
	}
	p.m.since(ctx, "write", began)
	if len(triggers) == 0 {
		return nil
	}
	return p.react(ctx, tx, triggers, works)
}

// shape is what a complaint's row counts for in the agents' loads and the
// queue counts, before a batch moved it.
type shape struct {
	holder string
	queue  queueKey
}

func snapshot(works map[string]*domain.Work) map[string]shape {
	out := make(map[string]shape, len(works))
	for id, w := range works {
		out[id] = shape{holder: holderOf(w), queue: queueKeyOf(w)}
	}
	return out
}

// write upserts the touched rows of ids (in that order) and moves the
// agents' loads and the queue counts from what they were (was) to now, in
// one round trip.
func (p *Projection) write(ctx context.Context, tx pgx.Tx, ids []string, works map[string]*domain.Work, was map[string]shape, touched map[string]bool) error {
	batch := &pgx.Batch{}
	delta := map[string]int{}
	qdelta := map[queueKey][2]int{}
	for _, id := range ids {
		if !touched[id] {
			continue
		}
		r, err := rowOf(works[id], p.policy)
		if err != nil {
			return err
		}
		batch.Queue(upsertSQL, r.values()...)
		if b, a := was[id].queue, queueKeyOf(works[id]); a != b {
			if b.queue != "" {
				d := qdelta[queueKey{queue: b.queue, shop: b.shop}]
				d[0]--
				if b.waiting {
					d[1]--
				}
				qdelta[queueKey{queue: b.queue, shop: b.shop}] = d
			}
			if a.queue != "" {
				d := qdelta[queueKey{queue: a.queue, shop: a.shop}]
				d[0]++
				if a.waiting {
					d[1]++
				}
				qdelta[queueKey{queue: a.queue, shop: a.shop}] = d
			}
		}
		if b, a := was[id].holder, holderOf(works[id]); a != b {
			if b != "" {
				delta[b]--
			}
			if a != "" {
				delta[a]++
			}
		}
	}
	for agent, d := range delta {
		if d != 0 {
			batch.Queue(`INSERT INTO `+Schema+`.agent_load (agent_id, open) VALUES ($1, $2)
				ON CONFLICT (agent_id) DO UPDATE SET open = agent_load.open + EXCLUDED.open`, agent, d)
		}
	}
	for k, d := range qdelta {
		if d != [2]int{} {
			batch.Queue(`INSERT INTO `+Schema+`.queue_counts (queue, shop_id, open, unassigned) VALUES ($1, $2, $3, $4)
				ON CONFLICT (queue, shop_id) DO UPDATE SET open = queue_counts.open + EXCLUDED.open,
				unassigned = queue_counts.unassigned + EXCLUDED.unassigned`, k.queue, k.shop, d[0], d[1])
		}
	}
	if batch.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, batch).Close()
}

// Committed is called by the projection runner once a batch's transaction
// committed: the assignments its reactions folded are in routing.agent_load
// now, so they stop counting as pending. Had it rolled back, they would stay
// pending until their events come round in the stream.
func (p *Projection) Committed() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.folded {
		if pa, ok := p.pending[f.id]; ok && pa.seq == f.seq {
			delete(p.pending, f.id)
		}
	}
	p.folded = p.folded[:0]
}

// react runs the reactions of a batch in stream order against the roster
// as this transaction sees it, plus assignments still on their way. What a
// reaction appended on exactly the state this batch folded is folded into
// the batch's rows at once: the complaint is in its queue (or with its
// agent) when the batch commits, not a fetch and a commit later, and a busy
// stream does not hold it behind everything filed meanwhile.
func (p *Projection) react(ctx context.Context, tx pgx.Tx, triggers []trigger, works map[string]*domain.Work) error {
	began := time.Now()
	pool, err := p.pools.PoolTx(ctx, tx)
	if err != nil {
		return err
	}
	p.m.since(ctx, "roster", began)
	p.mu.Lock()
	for _, pa := range p.pending {
		if a, ok := pool.Agent(pa.agent); ok {
			a.Load++
		}
	}
	p.mu.Unlock()
	was := snapshot(works)
	touched := map[string]bool{}
	var order []string
	// ahead holds, for a complaint whose stream had moved on past the
	// batch's state, that state carried forward by what followed it: a
	// clone, so the batch's rows keep what the batch folded.
	ahead := map[string]*domain.Work{}
	stateOf := func(id string) *domain.Work {
		if w, ok := ahead[id]; ok {
			return w
		}
		return works[id]
	}
	// note keeps a reaction's assignments pending until the projection
	// folds them, and folds the reaction into the state it was decided on
	// (expected is that state's sequence): into the batch's rows when that
	// is the batch's own state.
	note := func(out []*complaintv1.Event, seqs []uint64, expected uint64) {
		if len(out) == 0 || len(seqs) != len(out) {
			return
		}
		id := out[0].GetComplaintId()
		p.mu.Lock()
		defer p.mu.Unlock()
		for i, o := range out {
			if x := o.GetComplaintAssigned(); x != nil {
				p.pending[o.GetComplaintId()] = pendingAssign{agent: x.GetAgentId(), seq: seqs[i]}
			}
		}
		w := stateOf(id)
		if expected == 0 || w == nil || w.LastSeq != expected {
			return
		}
		for i, o := range out {
			w.Evolve(o, seqs[i])
		}
		if _, carried := ahead[id]; carried {
			return
		}
		if !touched[id] {
			touched[id] = true
			order = append(order, id)
		}
		if pa, ok := p.pending[id]; ok {
			p.folded = append(p.folded, foldedAssign{id: id, seq: pa.seq})
		}
	}
	// Decided in stream order — the oldest event gets the free slot — and
	// appended concurrently, each expecting the sequence it was decided on:
	// the appends are round trips, and one after another they held a batch
	// for seconds on a busy server. In rounds, each a complaint's next
	// trigger, decided on the state the projection has just folded (no
	// load) with what earlier rounds appended folded in. A complaint whose
	// append found its stream moved on reads what followed (a short read
	// from its state's sequence) and decides again on that; a whole history
	// is a read the stream server answers by walking every message since
	// the complaint's first, which under a backlog was most of a batch's
	// time. A complaint that still cannot be decided, or moves on twice, is
	// left to React, one after another.
	done := make([]bool, len(triggers))
	if sr, ok := p.reactor.(stateReactor); ok {
		began = time.Now()
		left := map[string]bool{}
		reads := map[string]int{}
		for {
			slots := make([]*app.Prepared, len(triggers))
			picked := map[string]bool{}
			n := 0
			for i, tr := range triggers {
				id := tr.ev.GetComplaintId()
				if done[i] || picked[id] || left[id] {
					continue
				}
				picked[id] = true
				if slots[i] = sr.Prepare(tr.ev, stateOf(id), tr.before, pool); slots[i] == nil {
					left[id] = true
				} else {
					n++
				}
			}
			if n == 0 {
				break
			}
			pathOf := func(i int) string {
				if _, carried := ahead[triggers[i].ev.GetComplaintId()]; carried {
					return "tail"
				}
				return "state"
			}
			if err := p.appendRound(ctx, pathOf, sr, slots, done, note); err != nil {
				return err
			}
			var moved []string
			for i, pr := range slots {
				if pr == nil || done[i] {
					continue
				}
				if id := triggers[i].ev.GetComplaintId(); reads[id] < 2 {
					reads[id]++
					moved = append(moved, id)
				} else {
					left[id] = true
				}
			}
			if err := p.readAhead(ctx, sr, moved, stateOf, ahead); err != nil {
				return err
			}
		}
		p.m.since(ctx, "rounds", began)
	}
	began = time.Now()
	reacted, appended := 0, 0
	for i, tr := range triggers {
		if done[i] {
			continue
		}
		out, seq, err := p.reactor.React(ctx, tr.ev, pool)
		if err != nil {
			return err
		}
		reacted++
		if len(out) > 0 {
			appended++
		}
		// Decided on a history the batch may not hold all of: pending only.
		note(out, lastSeqs(out, seq), 0)
	}
	if reacted > 0 {
		p.m.since(ctx, "react", began)
		p.m.reacted(ctx, "load", "appended", appended)
		p.m.reacted(ctx, "load", "nothing", reacted-appended)
	}
	began = time.Now()
	if err := p.write(ctx, tx, order, works, was, touched); err != nil {
		return err
	}
	p.m.since(ctx, "write_own", began)
	return nil
}

// lastSeqs spreads the sequence of an append's last event over its events:
// an append's events are stored one after another.
func lastSeqs(out []*complaintv1.Event, last uint64) []uint64 {
	seqs := make([]uint64, len(out))
	for i := range out {
		seqs[i] = last - uint64(len(out)-1-i)
	}
	return seqs
}

var upsertSQL = func() string {
	s := "INSERT INTO " + Schema + ".items (" + strings.Join(columns, ", ") + ") VALUES ("
	for i := range columns {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("$%d", i+1)
	}
	s += ") ON CONFLICT (complaint_id) DO UPDATE SET "
	for i, c := range columns[1:] {
		if i > 0 {
			s += ", "
		}
		s += c + " = EXCLUDED." + c
	}
	return s
}()

type querier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}

func loadRows(ctx context.Context, q querier, where string, args ...any) ([]*row, error) {
	return queryRows(ctx, q, true, where, args...)
}

// queryRows reads rows; without state (the read APIs never need it) a page
// moves a fraction of the bytes.
func queryRows(ctx context.Context, q querier, withState bool, where string, args ...any) ([]*row, error) {
	cols := columns
	if !withState {
		cols = columns[:len(columns)-1]
	}
	rs, err := q.Query(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM "+Schema+".items "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("load items: %w", err)
	}
	defer rs.Close()
	var out []*row
	for rs.Next() {
		r := &row{}
		if err := rs.Scan(r.scanTargets()[:len(cols)]...); err != nil {
			return nil, fmt.Errorf("scan item: %w", err)
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

func loadWorks(ctx context.Context, q querier, ids []string) (map[string]*domain.Work, error) {
	rows, err := loadRows(ctx, q, "WHERE complaint_id = ANY($1::uuid[])", ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*domain.Work, len(rows))
	for _, r := range rows {
		w, err := r.work()
		if err != nil {
			return nil, err
		}
		out[r.ComplaintID] = w
	}
	return out, nil
}

// readAhead carries the state of each complaint in ids forward by what its
// stream holds after it, read concurrently, into ahead.
func (p *Projection) readAhead(ctx context.Context, sr stateReactor, ids []string, stateOf func(string) *domain.Work, ahead map[string]*domain.Work) error {
	if len(ids) == 0 {
		return nil
	}
	began := time.Now()
	tails := make([][]eventstore.Record, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(appendConcurrency)
	for k, id := range ids {
		after := stateOf(id).LastSeq
		g.Go(func() error {
			var err error
			tails[k], err = sr.Tail(gctx, id, after)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for k, id := range ids {
		w, err := sr.CarryForward(stateOf(id), tails[k])
		if err != nil {
			return err
		}
		ahead[id] = w
	}
	p.m.since(ctx, "read_ahead", began)
	return nil
}

// appendRound appends the prepared slots concurrently and marks done those
// that landed (or rightly decided nothing), noting them; pathOf names how
// slot i was decided, for the metrics.
func (p *Projection) appendRound(ctx context.Context, pathOf func(int) string, sr stateReactor, slots []*app.Prepared, done []bool,
	note func(out []*complaintv1.Event, seqs []uint64, expected uint64)) error {
	type result struct {
		out   []*complaintv1.Event
		seqs  []uint64
		retry bool
	}
	res := make([]result, len(slots))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(appendConcurrency)
	for i, pr := range slots {
		if pr == nil {
			continue
		}
		g.Go(func() error {
			var err error
			res[i].out, res[i].seqs, res[i].retry, err = sr.AppendPrepared(gctx, pr)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, pr := range slots {
		switch {
		case pr == nil:
		case res[i].retry:
			p.m.reacted(ctx, pathOf(i), "moved_on", 1)
		default:
			done[i] = true
			note(res[i].out, res[i].seqs, pr.Expected())
			if len(res[i].out) > 0 {
				p.m.reacted(ctx, pathOf(i), "appended", 1)
			} else {
				p.m.reacted(ctx, pathOf(i), "nothing", 1)
			}
		}
	}
	return nil
}

// Reset empties the projection before a rebuild.
func (p *Projection) Reset(ctx context.Context, tx pgx.Tx) error {
	p.staged, p.order = map[string]*domain.Work{}, nil
	_, err := tx.Exec(ctx, "TRUNCATE "+Schema+".items, "+Schema+".agent_load, "+Schema+".queue_counts")
	return err
}

// Stage folds a chunk of the replay in memory: no reactions on a replay.
func (p *Projection) Stage(_ context.Context, _ pgx.Tx, recs []eventstore.Record) error {
	if p.staged == nil {
		p.staged = map[string]*domain.Work{}
	}
	for _, rec := range recs {
		ev, err := events.Decode(rec)
		if err != nil {
			return err
		}
		w := p.staged[rec.ComplaintID]
		if w == nil {
			w = &domain.Work{}
		}
		w.Evolve(ev, rec.StreamSeq)
		if w.Exists() {
			if p.staged[rec.ComplaintID] == nil {
				p.order = append(p.order, rec.ComplaintID)
			}
			p.staged[rec.ComplaintID] = w
		}
	}
	return nil
}

// Merge writes the folded rows with COPY into a staging table and one
// set-based insert, then counts the loads with one aggregate.
func (p *Projection) Merge(ctx context.Context, tx pgx.Tx) error {
	defer func() { p.staged, p.order = nil, nil }()
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE items_staging (LIKE "+Schema+".items) ON COMMIT DROP"); err != nil {
		return fmt.Errorf("staging table: %w", err)
	}
	src := make([][]any, 0, len(p.order))
	for _, id := range p.order {
		r, err := rowOf(p.staged[id], p.policy)
		if err != nil {
			return err
		}
		src = append(src, r.values())
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"items_staging"}, columns, pgx.CopyFromRows(src)); err != nil {
		return fmt.Errorf("copy staging: %w", err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO "+Schema+".items SELECT * FROM items_staging ON CONFLICT (complaint_id) DO NOTHING"); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "INSERT INTO "+Schema+".agent_load (agent_id, open) SELECT owner, count(*) FROM "+Schema+
		".items WHERE status = 1 AND owner <> '' GROUP BY owner"); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, "INSERT INTO "+Schema+".queue_counts (queue, shop_id, open, unassigned) SELECT queue, shop_id, count(*), count(*) FILTER (WHERE owner = '') FROM "+Schema+
		".items WHERE status = 1 AND queue <> '' GROUP BY queue, shop_id")
	return err
}
