// Package adapters holds reporting's PostgreSQL projection and queries and the
// wiring of the service.
package adapters

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kesu315/kesu/services/reporting/internal/domain"
)

// Schema is the Postgres schema reporting owns (DESIGN §4); it also owns bi.
const Schema = "reporting"

var factColumns = []string{
	"complaint_id", "shop_id", "season", "phase", "filed_at", "filed_day", "channel", "category", "severity",
	"customer_type", "sku_id", "product_name", "order_amount_fen", "claimed_amount_fen", "major", "major_reasons",
	"status", "first_response_seconds", "answered_30s", "first_resolved_at", "resolved_at", "resolved_phase",
	"resolution_seconds", "resolved_within_72h", "resolutions", "outcome", "remedy_kind", "remedy_amount_fen",
	"retention", "reopens", "contacts", "repeat_contacts", "transfers", "team", "agent_id", "agent_tier",
	"escalation_level", "escalations", "escalation_trigger", "breach_first_response", "breach_next_response",
	"breach_resolution", "breach_odr", "breach_promise", "breach_follow_up", "promises_made", "promises_broken",
	"follow_ups", "follow_up_reached", "satisfaction", "satisfaction_score", "closed_at", "close_reason",
	"personal_erased", "last_event_at", "event_count", "last_seq",
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func nullSeconds(s int64) any {
	if s < 0 {
		return nil
	}
	return s
}

// factValues is a fact as a row, in factColumns order.
func factValues(f *domain.Fact) []any {
	return []any{
		f.ComplaintID, f.ShopID, int32(f.Season), f.Phase, f.FiledAt, f.FiledDay, f.Channel, f.Category, f.Severity,
		f.CustomerType, f.SKU, f.Product, f.OrderAmountFen, f.ClaimedFen, f.Major, f.MajorReasons,
		f.Status, nullSeconds(f.FirstResponseSeconds), f.Answered30s(), nullTime(f.FirstResolvedAt), nullTime(f.ResolvedAt), f.ResolvedPhase,
		nullSeconds(f.ResolutionSeconds), f.ResolvedWithin72h(), f.Resolutions, f.Outcome, f.RemedyKind, f.RemedyAmountFen,
		f.Retention, f.Reopens, f.Contacts, f.RepeatContacts(), f.Transfers, f.Team, f.AgentID, f.AgentTier,
		f.EscalationLevel, f.Escalations, f.EscalationTrigger, f.BreachFirst, f.BreachNext,
		f.BreachResolution, f.BreachODR, f.BreachPromise, f.BreachFollowUp, f.PromisesMade, f.PromisesBroken,
		f.FollowUps, f.FollowUpReached, f.Satisfaction, f.SatisfactionScore, nullTime(f.ClosedAt), f.CloseReason,
		f.PersonalErased, f.LastEventAt, f.EventCount, f.LastSeq,
	}
}

// factRow appends a fact as a row, in factColumns order, to the rows to
// COPY: the same values as factValues, written as pgx writes them (a test
// compares the two), without boxing 57 values per fact.
func factRow(b *binaryRows, f *domain.Fact) error {
	n, rows := len(b.buf), b.rows
	b.row(len(factColumns))
	if err := b.uuid(f.ComplaintID); err != nil {
		b.buf, b.rows = b.buf[:n], rows
		return fmt.Errorf("complaint_id: %w", err)
	}
	b.text(f.ShopID)
	b.int4(int32(f.Season))
	b.text(f.Phase)
	b.timestamptz(f.FiledAt)
	b.date(f.FiledDay)
	b.text(f.Channel)
	b.text(f.Category)
	b.text(f.Severity)
	b.text(f.CustomerType)
	b.text(f.SKU)
	b.text(f.Product)
	b.int8(f.OrderAmountFen)
	b.int8(f.ClaimedFen)
	b.bool(f.Major)
	b.textArray(f.MajorReasons)
	b.text(f.Status)
	b.nullSeconds(f.FirstResponseSeconds)
	b.bool(f.Answered30s())
	b.nullTime(f.FirstResolvedAt)
	b.nullTime(f.ResolvedAt)
	b.text(f.ResolvedPhase)
	b.nullSeconds(f.ResolutionSeconds)
	b.bool(f.ResolvedWithin72h())
	b.int4(f.Resolutions)
	b.text(f.Outcome)
	b.text(f.RemedyKind)
	b.int8(f.RemedyAmountFen)
	b.text(f.Retention)
	b.int4(f.Reopens)
	b.int4(f.Contacts)
	b.int4(f.RepeatContacts())
	b.int4(f.Transfers)
	b.text(f.Team)
	b.text(f.AgentID)
	b.int4(f.AgentTier)
	b.int4(f.EscalationLevel)
	b.int4(f.Escalations)
	b.text(f.EscalationTrigger)
	b.int4(f.BreachFirst)
	b.int4(f.BreachNext)
	b.int4(f.BreachResolution)
	b.int4(f.BreachODR)
	b.int4(f.BreachPromise)
	b.int4(f.BreachFollowUp)
	b.int4(f.PromisesMade)
	b.int4(f.PromisesBroken)
	b.int4(f.FollowUps)
	b.bool(f.FollowUpReached)
	b.text(f.Satisfaction)
	b.int4(f.SatisfactionScore)
	b.nullTime(f.ClosedAt)
	b.text(f.CloseReason)
	b.bool(f.PersonalErased)
	b.timestamptz(f.LastEventAt)
	b.int8(f.EventCount)
	b.int8(f.LastSeq)
	return nil
}

// nullSeconds is nullSeconds as a column: NULL for a negative count.
func (b *binaryRows) nullSeconds(s int64) {
	if s < 0 {
		b.null()
		return
	}
	b.int8(s)
}

// nullTime is nullTime as a column: NULL for the zero time.
func (b *binaryRows) nullTime(t time.Time) {
	if t.IsZero() {
		b.null()
		return
	}
	b.timestamptz(t)
}

// scanFact reads a row of factColumns back into a fact (the live path folds
// a batch onto the rows it touches).
func scanFact(row pgx.Row) (*domain.Fact, error) {
	f := &domain.Fact{}
	var (
		season                          int32
		frs, rs                         *int64
		firstResolved, resolved, closed *time.Time
		answered30, within72            bool
		repeat                          int32
	)
	err := row.Scan(
		&f.ComplaintID, &f.ShopID, &season, &f.Phase, &f.FiledAt, &f.FiledDay, &f.Channel, &f.Category, &f.Severity,
		&f.CustomerType, &f.SKU, &f.Product, &f.OrderAmountFen, &f.ClaimedFen, &f.Major, &f.MajorReasons,
		&f.Status, &frs, &answered30, &firstResolved, &resolved, &f.ResolvedPhase,
		&rs, &within72, &f.Resolutions, &f.Outcome, &f.RemedyKind, &f.RemedyAmountFen,
		&f.Retention, &f.Reopens, &f.Contacts, &repeat, &f.Transfers, &f.Team, &f.AgentID, &f.AgentTier,
		&f.EscalationLevel, &f.Escalations, &f.EscalationTrigger, &f.BreachFirst, &f.BreachNext,
		&f.BreachResolution, &f.BreachODR, &f.BreachPromise, &f.BreachFollowUp, &f.PromisesMade, &f.PromisesBroken,
		&f.FollowUps, &f.FollowUpReached, &f.Satisfaction, &f.SatisfactionScore, &closed, &f.CloseReason,
		&f.PersonalErased, &f.LastEventAt, &f.EventCount, &f.LastSeq,
	)
	if err != nil {
		return nil, err
	}
	f.Season = int(season)
	f.FirstResponseSeconds, f.ResolutionSeconds = -1, -1
	if frs != nil {
		f.FirstResponseSeconds = *frs
	}
	if rs != nil {
		f.ResolutionSeconds = *rs
	}
	for _, p := range []struct {
		dst *time.Time
		src *time.Time
	}{{&f.FirstResolvedAt, firstResolved}, {&f.ResolvedAt, resolved}, {&f.ClosedAt, closed}} {
		if p.src != nil {
			*p.dst = *p.src
		}
	}
	// Timestamps come back in the session's zone; the fold compares instants only.
	f.FiledAt, f.LastEventAt = f.FiledAt.UTC(), f.LastEventAt.UTC()
	f.FiledDay = time.Date(f.FiledDay.Year(), f.FiledDay.Month(), f.FiledDay.Day(), 0, 0, 0, 0, time.UTC)
	return f, nil
}

type querier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}

func loadFacts(ctx context.Context, q querier, ids []string) (map[string]*domain.Fact, error) {
	out := make(map[string]*domain.Fact, len(ids))
	rows, err := q.Query(ctx, "SELECT "+strings.Join(factColumns, ", ")+" FROM "+Schema+".complaint_facts WHERE complaint_id = ANY($1::uuid[])", ids)
	if err != nil {
		return nil, fmt.Errorf("load facts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanFact(rows)
		if err != nil {
			return nil, fmt.Errorf("scan fact: %w", err)
		}
		out[f.ComplaintID] = f
	}
	return out, rows.Err()
}

var upsertFactSQL = func() string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + Schema + ".complaint_facts (" + strings.Join(factColumns, ", ") + ") VALUES (")
	for i := range factColumns {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", i+1)
	}
	b.WriteString(") ON CONFLICT (complaint_id) DO UPDATE SET ")
	for i, c := range factColumns[1:] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c + " = EXCLUDED." + c)
	}
	return b.String()
}()
