package adapters

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"

	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/projection"
	"github.com/kesu315/kesu/services/reporting/internal/domain"
)

// ProjectionName is the durable consumer and checkpoint name of the season projection.
const ProjectionName = "reporting-season"

// Projection keeps reporting.complaint_facts, reporting.events,
// reporting.escalations and the report's groups (season_groups,
// season_values). It is the kit runner's Handler and Rebuilder; both
// paths fold with domain.Fold and write rows with the same functions, so a
// rebuild equals the live projection.
type Projection struct {
	placer domain.Placer

	// rebuild state: facts folded so far, in first-seen order.
	facts       map[string]*domain.Fact
	order       []string
	escalations [][]any
	// copying is the COPY of the previous chunk's event rows, still running
	// while the next chunk is decoded and folded into the other buffer.
	copying chan error
	bufs    [2]binaryRows
	cur     int
	// gcPercent is GOGC before Reset raised it for the rebuild; Merge puts it back.
	gcPercent int
	gcRaised  bool
	// ev is the message every rebuilt event is decoded into: the fold and
	// the rows copy values out of it, nothing keeps it.
	ev complaintv1.Event
}

// rebuildGCPercent is GOGC during a rebuild. A full season keeps a million
// facts live while every event allocates its decoded message: at the default
// 100 each GC cycle rescans that heap every time it doubles. Four times the
// live heap is a few GB at a million complaints, which the service has.
const rebuildGCPercent = 400

// NewProjection returns the projection; placer puts complaints in seasons.
func NewProjection(placer domain.Placer) *Projection { return &Projection{placer: placer} }

// Apply folds a live batch: it reads the facts the batch touches once, folds
// in memory, COPYs the event rows and upserts each touched fact once, all in
// the runner's transaction.
func (p *Projection) Apply(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
	ids := make([]string, 0, len(recs))
	seen := map[string]bool{}
	for _, r := range recs {
		if !seen[r.ComplaintID] {
			seen[r.ComplaintID] = true
			ids = append(ids, r.ComplaintID)
		}
	}
	facts, err := loadFacts(ctx, tx, ids)
	if err != nil {
		return err
	}
	// The groups change by each fact's contribution after the batch minus
	// before it; take "before" now, since folding changes the facts in place.
	deltas := newSums()
	for _, f := range facts {
		deltas.add(f, -1)
	}
	touched := map[string]bool{}
	var evRows binaryRows
	var escRows [][]any
	for _, rec := range recs {
		ev, err := events.Decode(rec)
		if err != nil {
			return fmt.Errorf("decode %s at seq %d: %w", rec.Type, rec.StreamSeq, err)
		}
		f := domain.Fold(facts[rec.ComplaintID], rec.StreamSeq, ev, p.placer)
		if f != nil {
			facts[rec.ComplaintID] = f
			touched[rec.ComplaintID] = true
		}
		if err := eventRow(&evRows, rec.StreamSeq, rec.Type, ev); err != nil {
			return fmt.Errorf("event row at seq %d: %w", rec.StreamSeq, err)
		}
		if row := escalationRow(rec.StreamSeq, ev, f); row != nil {
			escRows = append(escRows, row)
		}
	}
	if _, err := copyBinary(ctx, tx, Schema+".events", eventColumns, &evRows); err != nil {
		return err
	}
	if len(escRows) > 0 {
		if _, err := projection.CopyRows(ctx, tx, Schema+".escalations", escalationColumns, escRows); err != nil {
			return err
		}
	}
	batch := &pgx.Batch{}
	for _, id := range ids {
		if touched[id] {
			batch.Queue(upsertFactSQL, factValues(facts[id])...)
		}
	}
	if batch.Len() > 0 {
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return err
		}
	}
	for _, f := range facts {
		deltas.add(f, 1)
	}
	return deltas.applyDeltas(ctx, tx)
}

// Reset empties the projection before a rebuild.
func (p *Projection) Reset(ctx context.Context, tx pgx.Tx) error {
	p.facts, p.order, p.escalations, p.copying = map[string]*domain.Fact{}, nil, nil, nil
	if !p.gcRaised {
		p.gcPercent, p.gcRaised = debug.SetGCPercent(rebuildGCPercent), true
	}
	_, err := tx.Exec(ctx, "TRUNCATE "+Schema+".complaint_facts, "+Schema+".events, "+Schema+".escalations, "+Schema+".season_groups, "+Schema+".season_values")
	return err
}

// Stage folds a chunk of the replay into the facts held in memory and COPYs
// the chunk's event rows straight into reporting.events: Reset truncated it
// in this same transaction, and event rows never change once written, so
// they need no staging. That keeps a rebuild mostly COPY.
//
// The COPY of a chunk runs in the background while the runner fetches the
// next chunk and Stage decodes and folds it: PostgreSQL writes on one core
// while Go decodes on the other. The transaction is used by one goroutine at
// a time: Stage waits for the previous COPY before starting the next, and
// Merge waits for the last one before using the transaction itself.
func (p *Projection) Stage(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
	rows, err := p.fold(recs)
	if err != nil {
		return errors.Join(err, p.waitCopy())
	}
	if err := p.waitCopy(); err != nil {
		return err
	}
	done := make(chan error, 1)
	p.copying = done
	// The next chunk folds into the other buffer while this one is sent.
	p.cur ^= 1
	go func() {
		_, err := copyBinary(ctx, tx, Schema+".events", eventColumns, rows)
		done <- err
	}()
	return nil
}

// waitCopy waits for the COPY in flight, if any.
func (p *Projection) waitCopy() error {
	if p.copying == nil {
		return nil
	}
	err := <-p.copying
	p.copying = nil
	return err
}

// fold folds records into the rebuild state and returns their event rows,
// encoded in the current buffer.
func (p *Projection) fold(recs []eventstore.Record) (*binaryRows, error) {
	if p.facts == nil {
		p.facts = map[string]*domain.Fact{}
	}
	rows := &p.bufs[p.cur]
	rows.reset()
	for _, rec := range recs {
		ev, err := p.decode(rec)
		if err != nil {
			return nil, fmt.Errorf("decode %s at seq %d: %w", rec.Type, rec.StreamSeq, err)
		}
		prev := p.facts[rec.ComplaintID]
		f := domain.Fold(prev, rec.StreamSeq, ev, p.placer)
		if f != nil && prev == nil {
			p.facts[rec.ComplaintID] = f
			p.order = append(p.order, rec.ComplaintID)
		}
		if err := eventRow(rows, rec.StreamSeq, rec.Type, ev); err != nil {
			return nil, fmt.Errorf("event row at seq %d: %w", rec.StreamSeq, err)
		}
		if row := escalationRow(rec.StreamSeq, ev, f); row != nil {
			p.escalations = append(p.escalations, row)
		}
	}
	return rows, nil
}

// decode is events.Decode into the reused message.
func (p *Projection) decode(rec eventstore.Record) (*complaintv1.Event, error) {
	ev := &p.ev
	if err := proto.Unmarshal(rec.Data, ev); err != nil {
		return nil, err
	}
	typ := events.TypeOf(ev)
	if typ == "" {
		return nil, events.ErrNoPayload
	}
	if rec.Type != "" && rec.Type != typ {
		return nil, fmt.Errorf("header %q, payload %q: %w", rec.Type, typ, events.ErrTypeMismatch)
	}
	return ev, nil
}

// Merge writes the folded facts (one COPY) and the escalations collected on
// the way.
func (p *Projection) Merge(ctx context.Context, tx pgx.Tx) error {
	defer func() {
		p.facts, p.order, p.escalations, p.bufs = nil, nil, nil, [2]binaryRows{}
		if p.gcRaised {
			debug.SetGCPercent(p.gcPercent)
			p.gcRaised = false
		}
	}()
	if err := p.waitCopy(); err != nil {
		return err
	}
	if len(p.escalations) > 0 {
		if _, err := projection.CopyRows(ctx, tx, Schema+".escalations", escalationColumns, p.escalations); err != nil {
			return err
		}
	}
	// Straight into the table, no staging: Reset truncated it in this
	// transaction and the fold holds one fact per complaint, so nothing can
	// conflict, and a staging copy would write every fact twice.
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{Schema, "complaint_facts"}, factColumns, &factSource{p: p}); err != nil {
		return fmt.Errorf("copy facts: %w", err)
	}
	all := newSums()
	for _, id := range p.order {
		all.add(p.facts[id], 1)
	}
	return all.copyAll(ctx, tx)
}

// factSource streams the folded facts to COPY without building every row first.
type factSource struct {
	p *Projection
	i int
}

func (s *factSource) Next() bool { s.i++; return s.i <= len(s.p.order) }
func (s *factSource) Values() ([]any, error) {
	return factValues(s.p.facts[s.p.order[s.i-1]]), nil
}
func (s *factSource) Err() error { return nil }
