package adapters

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kesu315/kesu/services/escalation/internal/domain"
	"github.com/kesu315/kesu/services/kit/policy"
)

// Schema is the Postgres schema escalation owns (DESIGN.md §4).
const Schema = "escalation"

const clockColumns = `deadline_id::text, complaint_id, shop_id, clock, key, generation, status, phase, started_at, target_at,
	warn_at, due_at, warned, stopped_at, breached_at, remaining_ms, error, agent_id, description`

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func scanClock(rows pgx.Rows) (*domain.Clock, error) {
	var c domain.Clock
	var clk, status, phase string
	var started, target, warn, due, stopped, breached *time.Time
	var remaining int64
	if err := rows.Scan(&c.ID, &c.Complaint, &c.ShopID, &clk, &c.Key, &c.Generation, &status, &phase, &started, &target,
		&warn, &due, &c.Warned, &stopped, &breached, &remaining, &c.Err, &c.Agent, &c.Description); err != nil {
		return nil, err
	}
	c.Clock, c.Status, c.Phase = policy.Clock(clk), domain.ClockStatus(status), policy.Phase(phase)
	c.Start, c.Target, c.Warn, c.Due = deref(started), deref(target), deref(warn), deref(due)
	c.Stopped, c.Breached, c.Remaining = deref(stopped), deref(breached), time.Duration(remaining)*time.Millisecond
	return &c, nil
}

// upsertClocks writes clocks as they are now, fire_at included.
func upsertClocks(ctx context.Context, tx pgx.Tx, clocks []*domain.Clock) error {
	if len(clocks) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, c := range clocks {
		b.Queue(`INSERT INTO escalation.deadlines (deadline_id, complaint_id, shop_id, clock, key, generation, status, phase,
			started_at, target_at, warn_at, due_at, warned, stopped_at, breached_at, remaining_ms, error, agent_id, description, fire_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)
			ON CONFLICT (deadline_id) DO UPDATE SET generation=$6, status=$7, phase=$8, started_at=$9, target_at=$10, warn_at=$11,
			due_at=$12, warned=$13, stopped_at=$14, breached_at=$15, remaining_ms=$16, error=$17, agent_id=$18, description=$19,
			fire_at=$20, attempts=0, last_error=''`,
			c.ID, c.Complaint, c.ShopID, string(c.Clock), c.Key, c.Generation, string(c.Status), string(c.Phase),
			nullTime(c.Start), nullTime(c.Target), nullTime(c.Warn), nullTime(c.Due), c.Warned, nullTime(c.Stopped),
			nullTime(c.Breached), c.Remaining.Milliseconds(), c.Err, c.Agent, c.Description, nullTime(c.FireAt()))
	}
	return tx.SendBatch(ctx, b).Close()
}

// loadComplaints reads complaints and their clocks, locking them for the
// transaction so the poller's updates and ours serialise.
func loadComplaints(ctx context.Context, tx pgx.Tx, ids []string, lock bool) (map[string]*domain.Complaint, error) {
	suffix := ""
	if lock {
		suffix = " FOR UPDATE"
	}
	out := make(map[string]*domain.Complaint, len(ids))
	rows, err := tx.Query(ctx, `SELECT complaint_id, facts FROM escalation.complaints WHERE complaint_id = ANY($1)`+suffix, ids)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		var facts []byte
		if err := rows.Scan(&id, &facts); err != nil {
			rows.Close()
			return nil, err
		}
		c := domain.NewComplaint(id)
		if err := json.Unmarshal(facts, c); err != nil {
			rows.Close()
			return nil, fmt.Errorf("complaint %s facts: %w", id, err)
		}
		c.Clocks = map[string]*domain.Clock{}
		out[id] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = tx.Query(ctx, `SELECT `+clockColumns+` FROM escalation.deadlines WHERE complaint_id = ANY($1) ORDER BY deadline_id`+suffix, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		cl, err := scanClock(rows)
		if err != nil {
			return nil, err
		}
		if c := out[cl.Complaint]; c != nil {
			c.Clocks[domain.ClockKey(cl.Clock, cl.Key)] = cl
		}
	}
	return out, rows.Err()
}

func saveComplaint(ctx context.Context, tx pgx.Tx, c *domain.Complaint, now time.Time) error {
	facts, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO escalation.complaints (complaint_id, shop_id, status, level_id, facts, last_seq, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7)
		ON CONFLICT (complaint_id) DO UPDATE SET shop_id=$2, status=$3, level_id=$4, facts=$5, last_seq=$6, updated_at=$7`,
		c.ID, c.ShopID, string(c.Status), c.LevelID, facts, int64(c.LastSeq), now)
	return err
}
