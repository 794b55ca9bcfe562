package adapters

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
	"github.com/kesu315/kesu/services/followup/internal/adapters/postgres/migrations"
	"github.com/kesu315/kesu/services/followup/internal/domain"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/migrate"
)

// Schema is the Postgres schema followup owns (DESIGN.md §4).
const Schema = migrations.Schema

// ProjectionName is the durable consumer and checkpoint name of the projection.
const ProjectionName = "followup-complaints"

// Migrate applies followup's migrations.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return migrate.Apply(ctx, pool, Schema, migrations.FS())
}

// Timer kinds (followup.timers.kind).
const (
	TimerSchedule      = "schedule"
	TimerReopenContact = "reopen_contact"
	TimerCloseNoAnswer = "close_no_answer"
	TimerErase         = "erase"
)

var columns = []string{
	"complaint_id", "shop_id", "customer_ref", "channel", "filed_at", "status", "stage", "severity", "category",
	"owner", "last_owner", "level", "resolution_id", "resolved_at", "closed_at", "follow_up_id", "fu_state",
	"fu_due_at", "next_attempt_at", "close_at", "attempts", "max_attempts", "queue", "queue_due", "satisfaction",
	"score", "return_requested", "retention", "follow_ups", "reopens", "erased", "last_seq", "updated_at",
}

// row is one complaint of the projection: the domain fold plus bookkeeping.
type row struct {
	c       *domain.Complaint
	updated time.Time
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func (r *row) values() []any {
	c := r.c
	f := c.Current
	if f == nil {
		f = &domain.FollowUp{}
	}
	return []any{
		c.ID, c.ShopID, c.CustomerRef, int16(c.Channel), c.FiledAt, int16(c.Status), c.Stage(), int16(c.Severity),
		c.Category, c.Owner, c.LastOwner, int16(c.Level), c.ResolutionID, nullTime(c.ResolvedAt), nullTime(c.ClosedAt),
		f.ID, int16(f.State), nullTime(f.DueAt), nullTime(f.NextAttemptAt), nullTime(f.CloseAt), f.Attempts, f.MaxAttempts,
		f.Queue, nullTime(c.QueueDue()), int16(f.Satisfaction), f.Score, c.ReturnRequested, int16(c.Retention),
		c.FollowUps, c.Reopens, c.Erased, int64(c.LastSeq), r.updated,
	}
}

type scanRow struct {
	id, shop, customer, stage, category, owner, lastOwner, resolution, fuID, queue string
	channel, status, severity, level, fuState, satisfaction, retention             int16
	filed, updated                                                                 time.Time
	resolved, closed, due, next, closeAt, queueDue                                 *time.Time
	attempts, maxAttempts, score, followUps, reopens                               int32
	returnRequested, erased                                                        bool
	lastSeq                                                                        int64
}

func (s *scanRow) targets() []any {
	return []any{&s.id, &s.shop, &s.customer, &s.channel, &s.filed, &s.status, &s.stage, &s.severity, &s.category,
		&s.owner, &s.lastOwner, &s.level, &s.resolution, &s.resolved, &s.closed, &s.fuID, &s.fuState,
		&s.due, &s.next, &s.closeAt, &s.attempts, &s.maxAttempts, &s.queue, &s.queueDue, &s.satisfaction,
		&s.score, &s.returnRequested, &s.retention, &s.followUps, &s.reopens, &s.erased, &s.lastSeq, &s.updated}
}

func tv(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func (s *scanRow) row() *row {
	c := &domain.Complaint{
		ID: s.id, ShopID: s.shop, CustomerRef: s.customer, Channel: complaintv1.Channel(s.channel), Filed: true,
		FiledAt: s.filed, Status: domain.Status(s.status), Severity: complaintv1.Severity(s.severity), Category: s.category,
		Owner: s.owner, LastOwner: s.lastOwner, Level: complaintv1.EscalationLevel(s.level), ResolutionID: s.resolution,
		ResolvedAt: tv(s.resolved), ClosedAt: tv(s.closed), ReturnRequested: s.returnRequested,
		Retention: complaintv1.Retention(s.retention), FollowUps: int(s.followUps), Reopens: int(s.reopens),
		Erased: s.erased, LastSeq: uint64(s.lastSeq),
	}
	if s.fuID != "" {
		c.Current = &domain.FollowUp{ID: s.fuID, State: domain.FollowUpState(s.fuState), DueAt: tv(s.due),
			NextAttemptAt: tv(s.next), CloseAt: tv(s.closeAt), Attempts: int(s.attempts), MaxAttempts: int(s.maxAttempts),
			Queue: s.queue, Satisfaction: complaintv1.Satisfaction(s.satisfaction), Score: int(s.score)}
	}
	return &row{c: c, updated: s.updated}
}

func (r *row) view() *followupv1.FollowUp {
	c := r.c
	v := &followupv1.FollowUp{
		ComplaintId: c.ID, ShopId: c.ShopID, Status: c.Status, Severity: c.Severity, Category: c.Category,
		Owner: c.LastOwner, Retention: c.Retention, ResolvedAt: ts(c.ResolvedAt), ClosedAt: ts(c.ClosedAt),
		ReopenCount: int32(c.Reopens), Channel: c.Channel,
	}
	if f := c.Current; f != nil {
		v.FollowUpId, v.State, v.DueAt, v.NextAttemptAt = f.ID, f.State, ts(f.DueAt), ts(f.NextAttemptAt)
		v.Attempts, v.MaxAttempts, v.Queue = int32(f.Attempts), int32(f.MaxAttempts), f.Queue
		v.Satisfaction, v.Score = f.Satisfaction, int32(f.Score)
	}
	return v
}

// timer is a reaction the poller will carry out.
type timer struct {
	complaintID, kind, ref, shop string
	due                          time.Time
}

// fold applies one stored event; it is the projection's only logic, shared
// by the live path and the rebuild. It returns the reactions the event calls
// for (the live path stores them; a rebuild does not react again) and the
// external refs it names.
func fold(r *row, rec eventstore.Record, ev *complaintv1.Event) (*row, []timer, []*complaintv1.ExternalRef) {
	if r != nil && rec.StreamSeq <= r.c.LastSeq {
		return r, nil, nil
	}
	if r == nil {
		if ev.GetComplaintFiled() == nil {
			return nil, nil, nil // nothing before ComplaintFiled counts
		}
		r = &row{c: &domain.Complaint{}}
	}
	before := r.c.Status
	r.c.Evolve(rec.StreamSeq, ev)
	r.updated = ev.GetRecordedAt().AsTime()
	var timers []timer
	var refs []*complaintv1.ExternalRef
	at := ev.GetRecordedAt().AsTime()
	mk := func(kind, ref string, due time.Time) timer {
		return timer{complaintID: r.c.ID, kind: kind, ref: ref, shop: r.c.ShopID, due: due}
	}
	switch p := ev.GetPayload().(type) {
	case *complaintv1.Event_ComplaintFiled:
		refs = append(refs, p.ComplaintFiled.GetExternalRef())
	case *complaintv1.Event_ExternalRefLinked:
		refs = append(refs, p.ExternalRefLinked.GetRef())
	case *complaintv1.Event_ContactAdded:
		refs = append(refs, p.ContactAdded.GetExternalRef())
		if before == domain.StatusResolved || before == domain.StatusClosed {
			timers = append(timers, mk(TimerReopenContact, ev.GetEventId(), at))
		}
	case *complaintv1.Event_ComplaintResolved:
		timers = append(timers, mk(TimerSchedule, ev.GetEventId(), at))
	case *complaintv1.Event_FollowUpAttempted:
		if ca := p.FollowUpAttempted.GetCloseAt(); ca != nil {
			timers = append(timers, mk(TimerCloseNoAnswer, p.FollowUpAttempted.GetFollowUpId(), ca.AsTime()))
		}
	case *complaintv1.Event_PersonalDataErased:
		if ref := p.PersonalDataErased.GetCustomerRef(); ref != "" {
			timers = append(timers, mk(TimerErase, ref, at))
		}
	}
	return r, timers, refs
}

// Projection keeps followup.complaints and followup.external_refs, and
// records the reactions the live stream calls for in followup.timers.
type Projection struct {
	staged map[string]*row
	order  []string
	refs   map[[2]string]string
}

// NewProjection returns the projection handler.
func NewProjection() *Projection { return &Projection{} }

type querier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}

func loadRows(ctx context.Context, q querier, where string, args ...any) ([]*row, error) {
	rs, err := q.Query(ctx, "SELECT "+strings.Join(columns, ", ")+" FROM "+Schema+".complaints "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("load follow-ups: %w", err)
	}
	defer rs.Close()
	var out []*row
	for rs.Next() {
		var s scanRow
		if err := rs.Scan(s.targets()...); err != nil {
			return nil, fmt.Errorf("scan follow-up: %w", err)
		}
		out = append(out, s.row())
	}
	return out, rs.Err()
}

// Apply folds a batch: one read of the touched rows, one write each, plus
// the refs and timers, all in the runner's transaction.
func (p *Projection) Apply(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
	var ids []string
	seen := map[string]bool{}
	for _, r := range recs {
		if !seen[r.ComplaintID] {
			seen[r.ComplaintID] = true
			ids = append(ids, r.ComplaintID)
		}
	}
	loaded, err := loadRows(ctx, tx, "WHERE complaint_id = ANY($1::uuid[])", ids)
	if err != nil {
		return err
	}
	rows := make(map[string]*row, len(ids))
	for _, r := range loaded {
		rows[r.c.ID] = r
	}
	touched := map[string]bool{}
	batch := &pgx.Batch{}
	for _, rec := range recs {
		ev, err := events.Decode(rec)
		if err != nil {
			return err
		}
		r, timers, refs := fold(rows[rec.ComplaintID], rec, ev)
		if r == nil {
			continue
		}
		rows[rec.ComplaintID], touched[rec.ComplaintID] = r, true
		for _, t := range timers {
			batch.Queue("INSERT INTO "+Schema+".timers (complaint_id, kind, ref, shop_id, due_at) VALUES ($1, $2, $3, $4, $5) "+
				"ON CONFLICT (complaint_id, kind, ref) DO UPDATE SET due_at = EXCLUDED.due_at", t.complaintID, t.kind, t.ref, t.shop, t.due)
		}
		for _, ref := range refs {
			if ref.GetExternalId() != "" {
				batch.Queue("INSERT INTO "+Schema+".external_refs (source, external_id, complaint_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
					ref.GetSource(), ref.GetExternalId(), r.c.ID)
			}
		}
	}
	for _, id := range ids {
		if touched[id] {
			batch.Queue(upsertSQL, rows[id].values()...)
		}
	}
	if batch.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, batch).Close()
}

var upsertSQL = func() string {
	ph := make([]string, len(columns))
	set := make([]string, 0, len(columns)-1)
	for i, c := range columns {
		ph[i] = fmt.Sprintf("$%d", i+1)
		if i > 0 {
			set = append(set, c+" = EXCLUDED."+c)
		}
	}
	return "INSERT INTO " + Schema + ".complaints (" + strings.Join(columns, ", ") + ") VALUES (" + strings.Join(ph, ", ") +
		") ON CONFLICT (complaint_id) DO UPDATE SET " + strings.Join(set, ", ")
}()

// Reset empties the projection (not the timers) before a rebuild.
func (p *Projection) Reset(ctx context.Context, tx pgx.Tx) error {
	p.staged, p.order, p.refs = map[string]*row{}, nil, map[[2]string]string{}
	_, err := tx.Exec(ctx, "TRUNCATE "+Schema+".complaints, "+Schema+".external_refs")
	return err
}

// Stage folds a chunk of the replay in memory; reactions are not repeated.
func (p *Projection) Stage(_ context.Context, _ pgx.Tx, recs []eventstore.Record) error {
	if p.staged == nil {
		p.staged, p.refs = map[string]*row{}, map[[2]string]string{}
	}
	for _, rec := range recs {
		ev, err := events.Decode(rec)
		if err != nil {
			return err
		}
		prev := p.staged[rec.ComplaintID]
		r, _, refs := fold(prev, rec, ev)
		if r == nil {
			continue
		}
		if prev == nil {
			p.order = append(p.order, rec.ComplaintID)
		}
		p.staged[rec.ComplaintID] = r
		for _, ref := range refs {
			k := [2]string{ref.GetSource(), ref.GetExternalId()}
			if _, ok := p.refs[k]; !ok && ref.GetExternalId() != "" {
				p.refs[k] = r.c.ID
			}
		}
	}
	return nil
}

// Merge writes the folded rows: COPY into staging tables, then set-based inserts.
func (p *Projection) Merge(ctx context.Context, tx pgx.Tx) error {
	defer func() { p.staged, p.order, p.refs = nil, nil, nil }()
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE followup_staging (LIKE "+Schema+".complaints) ON COMMIT DROP"); err != nil {
		return fmt.Errorf("staging table: %w", err)
	}
	src := make([][]any, 0, len(p.order))
	for _, id := range p.order {
		src = append(src, p.staged[id].values())
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"followup_staging"}, columns, pgx.CopyFromRows(src)); err != nil {
		return fmt.Errorf("copy staging: %w", err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO "+Schema+".complaints SELECT * FROM followup_staging ON CONFLICT (complaint_id) DO NOTHING"); err != nil {
		return err
	}
	refs := make([][]any, 0, len(p.refs))
	for k, id := range p.refs {
		refs = append(refs, []any{k[0], k[1], id})
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{Schema, "external_refs"}, []string{"source", "external_id", "complaint_id"}, pgx.CopyFromRows(refs))
	return err
}
