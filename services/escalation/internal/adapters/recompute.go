package adapters

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kesu315/kesu/services/escalation/internal/app"
	"github.com/kesu315/kesu/services/escalation/internal/domain"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/policy"
)

// Clocks reads and rewrites the deadlines table for the app layer.
type Clocks struct {
	pool  *pgxpool.Pool
	store eventstore.Log
	clock clock.Clock
}

// NewClocks returns the clocks reader and recomputer.
func NewClocks(pool *pgxpool.Pool, store eventstore.Log, c clock.Clock) *Clocks {
	return &Clocks{pool: pool, store: store, clock: c}
}

// Get returns a complaint with its clocks as the projection has them.
func (s *Clocks) Get(ctx context.Context, complaintID string) (*domain.Complaint, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	cs, err := loadComplaints(ctx, tx, []string{complaintID}, false)
	if err != nil {
		return nil, err
	}
	c := cs[complaintID]
	if c == nil {
		return nil, domain.ErrNotFound
	}
	return c, nil
}

// Running lists running clocks of a shop, soonest due first.
func (s *Clocks) Running(ctx context.Context, shopID string, dueBefore time.Time, limit int) ([]*domain.Clock, error) {
	var before *time.Time
	if !dueBefore.IsZero() {
		before = &dueBefore
	}
	rows, err := s.pool.Query(ctx, `SELECT `+clockColumns+` FROM escalation.deadlines
		WHERE status = 'running' AND shop_id = $1 AND ($2::timestamptz IS NULL OR due_at < $2)
		ORDER BY due_at LIMIT $3`, shopID, before, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*domain.Clock, error) { return scanClock(r.(pgx.Rows)) })
}

// PolicyDigest is the digest of the policy the deadlines were last computed with.
func (s *Clocks) PolicyDigest(ctx context.Context) (string, error) {
	var d string
	err := s.pool.QueryRow(ctx, `SELECT digest FROM escalation.policy_state WHERE id = 1`).Scan(&d)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return d, err
}

// SetPolicyDigest records the policy the deadlines now follow.
func (s *Clocks) SetPolicyDigest(ctx context.Context, digest string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO escalation.policy_state (id, digest, recomputed_at) VALUES (1, $1, $2)
		ON CONFLICT (id) DO UPDATE SET digest = $1, recomputed_at = $2`, digest, s.clock.Now())
	return err
}

// errMoving: the projection kept applying newer events of the complaint (it
// is catching up); the complaint is skipped and counted.
var errMoving = errors.New("the projection is still catching up with this complaint")

// Recompute refolds every open complaint (of a shop, or all) from its events
// with policy p and compares the clocks with the table; with apply it writes
// the new clocks. A complaint whose row moved while it was refolded (the
// projection applied a newer event) is refolded again.
func (s *Clocks) Recompute(ctx context.Context, shopID string, p *policy.Policy, apply bool, maxChanges int) (app.RecomputeResult, error) {
	var res app.RecomputeResult
	rows, err := s.pool.Query(ctx, `SELECT complaint_id FROM escalation.complaints
		WHERE status <> 'closed' AND ($1 = '' OR shop_id = $1) ORDER BY complaint_id`, shopID)
	if err != nil {
		return res, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return res, err
	}
	for _, id := range ids {
		changes, err := s.recomputeOne(ctx, id, p, apply)
		if errors.Is(err, errMoving) {
			res.Skipped++
			continue
		}
		if err != nil {
			return res, fmt.Errorf("recompute complaint %s: %w", id, err)
		}
		res.Complaints++
		res.Changed += len(changes)
		for _, ch := range changes {
			if len(res.Changes) < maxChanges {
				res.Changes = append(res.Changes, ch)
			}
		}
	}
	return res, nil
}

func (s *Clocks) recomputeOne(ctx context.Context, id string, p *policy.Policy, apply bool) ([]app.Change, error) {
	for attempt := 0; ; attempt++ {
		recs, err := s.store.Load(ctx, id)
		if err != nil {
			return nil, err
		}
		evs, err := events.DecodeAll(recs)
		if err != nil {
			return nil, err
		}
		seqs := make([]uint64, len(recs))
		for i, r := range recs {
			seqs[i] = r.StreamSeq
		}
		fresh := domain.Fold(id, evs, seqs, p)
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			return nil, err
		}
		changes, retry, err := s.diff(ctx, tx, id, fresh, apply)
		if err == nil && !retry && apply {
			err = tx.Commit(ctx)
		}
		_ = tx.Rollback(ctx)
		if err != nil {
			return nil, err
		}
		if !retry {
			return changes, nil
		}
		if attempt >= 20 {
			return nil, errMoving
		}
		if err := clock.SleepUntil(ctx, clock.Wall(), time.Now().Add(50*time.Millisecond)); err != nil {
			return nil, err
		}
	}
}

func (s *Clocks) diff(ctx context.Context, tx pgx.Tx, id string, fresh *domain.Complaint, apply bool) ([]app.Change, bool, error) {
	cs, err := loadComplaints(ctx, tx, []string{id}, apply)
	if err != nil {
		return nil, false, err
	}
	old := cs[id]
	if old == nil {
		return nil, false, nil
	}
	if apply && old.LastSeq != fresh.LastSeq {
		return nil, true, nil
	}
	var changes []app.Change
	var write []*domain.Clock
	for _, nc := range fresh.SortedClocks() {
		oc := old.Clocks[domain.ClockKey(nc.Clock, nc.Key)]
		if oc != nil && oc.Status == nc.Status && oc.Due.Equal(nc.Due) && oc.Warn.Equal(nc.Warn) && oc.Target.Equal(nc.Target) && oc.Err == nc.Err {
			continue
		}
		ch := app.Change{New: nc}
		if oc != nil {
			ch.Old = oc
			// A breach or warning the poller recorded stays recorded.
			nc.Warned = nc.Warned || (oc.Warned && oc.Generation == nc.Generation && !nc.Warn.After(oc.Warn))
		}
		changes = append(changes, ch)
		write = append(write, nc)
	}
	if apply && len(write) > 0 {
		if err := upsertClocks(ctx, tx, write); err != nil {
			return nil, false, err
		}
	}
	return changes, false, nil
}
