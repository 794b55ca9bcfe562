package adapters

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/jackc/pgx/v5"

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

	// rebuild state: facts folded so far, by complaint and in first-seen order.
	facts       map[string]*domain.Fact
	order       []*domain.Fact
	escalations [][]any
	// copying is the COPY of the previous chunk's event rows, still running
	// while the next chunk is decoded and folded into the other buffer.
	copying chan copyDone
	bufs    [2]binaryRows
	cur     int
	// gcPercent is GOGC before Reset raised it for the rebuild; Merge puts it back.
	gcPercent int
	gcRaised  bool
	// dec decodes every rebuilt event into one reused message: the fold and
	// the rows copy values out of it, nothing keeps it.
	dec *eventDecoder
	// trace, when set (the benchmark's breakdown), is told how long each
	// step of a rebuild took; see the step names where it is called.
	trace func(step string, took time.Duration)
}

// copyDone is how a background COPY ended and how long it ran.
type copyDone struct {
	err  error
	took time.Duration
	step string // what it copied, for the trace
}

// step tells trace how long a step took since start.
func (p *Projection) step(name string, start time.Time) {
	if p.trace != nil {
		p.trace(name, time.Since(start))
	}
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
	start := time.Now()
	rows, err := p.fold(recs)
	if err != nil {
		return errors.Join(err, p.waitCopy())
	}
	p.step("fold", start)
	return p.startCopy(ctx, tx, "events", Schema+".events", eventColumns, rows)
}

// startCopy waits for the COPY in flight, then COPYs rows in the background
// and switches to the other buffer, which the caller fills meanwhile.
func (p *Projection) startCopy(ctx context.Context, tx pgx.Tx, step, table string, columns []string, rows *binaryRows) error {
	if err := p.waitCopy(); err != nil {
		return err
	}
	done := make(chan copyDone, 1)
	p.copying = done
	p.cur ^= 1
	go func() {
		start := time.Now()
		_, err := copyBinary(ctx, tx, table, columns, rows)
		done <- copyDone{err, time.Since(start), step}
	}()
	return nil
}

// waitCopy waits for the COPY in flight, if any. Steps: "wait" is the time
// spent waiting for it, and the COPY's own step ("events", "facts") how
// long it ran in all.
func (p *Projection) waitCopy() error {
	if p.copying == nil {
		return nil
	}
	start := time.Now()
	d := <-p.copying
	p.copying = nil
	p.step("wait", start)
	if p.trace != nil {
		p.trace(d.step, d.took)
	}
	return d.err
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
		ev, typ, err := p.decode(rec)
		if err != nil {
			return nil, fmt.Errorf("decode %s at seq %d: %w", rec.Type, rec.StreamSeq, err)
		}
		prev := p.facts[rec.ComplaintID]
		f := domain.Fold(prev, rec.StreamSeq, ev, p.placer)
		if f != nil && prev == nil {
			p.facts[rec.ComplaintID] = f
			p.order = append(p.order, f)
		}
		if err := eventRow(rows, rec.StreamSeq, typ, ev); err != nil {
			return nil, fmt.Errorf("event row at seq %d: %w", rec.StreamSeq, err)
		}
		if row := escalationRow(rec.StreamSeq, ev, f); row != nil {
			p.escalations = append(p.escalations, row)
		}
	}
	return rows, nil
}

// decode is events.Decode into the reused message; it returns the event's type.
func (p *Projection) decode(rec eventstore.Record) (*complaintv1.Event, string, error) {
	if p.dec == nil {
		p.dec = newEventDecoder()
	}
	ev, typ, err := p.dec.decode(rec.Data, rec.ComplaintID)
	if err != nil {
		return nil, "", err
	}
	if typ == "" {
		return nil, "", events.ErrNoPayload
	}
	if rec.Type != "" && rec.Type != typ {
		return nil, "", fmt.Errorf("header %q, payload %q: %w", rec.Type, typ, events.ErrTypeMismatch)
	}
	return ev, typ, nil
}

// factChunk is how many facts Merge encodes per COPY: a few MB (a variable
// for a test to make it small).
var factChunk = 8192

// Merge writes the escalations collected on the way, the folded facts and
// the report's groups. The facts are COPYed a chunk at a time straight into
// reporting.complaint_facts (Reset truncated it in this transaction and the
// fold holds one fact per complaint, so nothing can conflict, and a staging
// copy would write every fact twice); each chunk's COPY runs while the next
// is encoded and added to the groups' sums.
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
	start := time.Now()
	if len(p.escalations) > 0 {
		if _, err := projection.CopyRows(ctx, tx, Schema+".escalations", escalationColumns, p.escalations); err != nil {
			return err
		}
	}
	p.step("escalations", start)
	start = time.Now()
	all := newSums()
	for i := 0; i < len(p.order); i += factChunk {
		rows := &p.bufs[p.cur]
		rows.reset()
		for _, f := range p.order[i:min(i+factChunk, len(p.order))] {
			if err := factRow(rows, f); err != nil {
				return errors.Join(fmt.Errorf("copy facts: complaint %s: %w", f.ComplaintID, err), p.waitCopy())
			}
			all.add(f, 1)
		}
		if err := p.startCopy(ctx, tx, "facts", Schema+".complaint_facts", factColumns, rows); err != nil {
			return fmt.Errorf("copy facts: %w", err)
		}
	}
	if err := p.waitCopy(); err != nil {
		return fmt.Errorf("copy facts: %w", err)
	}
	p.step("merge_facts", start)
	start = time.Now()
	defer p.step("groups", start)
	return all.copyAll(ctx, tx)
}
