package adapters

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/escalation/internal/domain"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/policy"
)

// ProjectionName is the durable consumer and checkpoint name of the clocks projection.
const ProjectionName = "escalation-clocks"

// SpikeConfig says when filings count as a spike: at least MinCount filings
// of one category (or one product) in the current Window, and more than
// Factor times the mean of the Baselines windows before it.
type SpikeConfig struct {
	Window    time.Duration
	Baselines int
	Factor    float64
	MinCount  int64
}

// DefaultSpike is an hour against the day before, three times over, ten at least.
var DefaultSpike = SpikeConfig{Window: time.Hour, Baselines: 24, Factor: 3, MinCount: 10}

// Projection folds COMPLAINTS into the clocks: complaints, deadlines, the
// reactions outbox and the spike counters, in the runner's transaction.
type Projection struct {
	policy *policy.Policy
	clock  clock.Clock
	spike  SpikeConfig
}

// NewProjection returns the clocks projection.
func NewProjection(p *policy.Policy, c clock.Clock, spike SpikeConfig) *Projection {
	if spike.Window <= 0 {
		spike = DefaultSpike
	}
	return &Projection{policy: p, clock: c, spike: spike}
}

// Apply implements projection.Handler.
func (p *Projection) Apply(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
	ids := make([]string, 0, len(recs))
	for _, r := range recs {
		if !slices.Contains(ids, r.ComplaintID) {
			ids = append(ids, r.ComplaintID)
		}
	}
	slices.Sort(ids) // lock in one order: no deadlock with another writer
	cs, err := loadComplaints(ctx, tx, ids, true)
	if err != nil {
		return fmt.Errorf("load clocks: %w", err)
	}
	dirty := map[string]map[string]bool{}
	touched := map[string]bool{}
	var reactions []domain.Reaction
	for _, rec := range recs {
		ev, err := events.Decode(rec)
		if err != nil {
			return err
		}
		c := cs[rec.ComplaintID]
		if c == nil {
			if _, filed := ev.GetPayload().(*complaintv1.Event_ComplaintFiled); !filed {
				continue // a stream whose filing we never saw (foreign test data): nothing to time
			}
			c = domain.NewComplaint(rec.ComplaintID)
			cs[rec.ComplaintID] = c
		}
		fx := c.Apply(ev, rec.StreamSeq, p.policy)
		touched[c.ID] = true
		for k := range fx.Dirty {
			if dirty[c.ID] == nil {
				dirty[c.ID] = map[string]bool{}
			}
			dirty[c.ID][k] = true
		}
		reactions = append(reactions, fx.Reactions...)
		if fx.Filed {
			spikes, err := p.countFiling(ctx, tx, c, eventTimeOf(ev))
			if err != nil {
				return err
			}
			reactions = append(reactions, spikes...)
		}
	}
	now := p.clock.Now()
	var write []*domain.Clock
	for _, id := range ids {
		c := cs[id]
		if c == nil || !touched[id] {
			continue
		}
		if err := saveComplaint(ctx, tx, c, now); err != nil {
			return fmt.Errorf("save complaint %s: %w", id, err)
		}
		for k := range dirty[id] {
			write = append(write, c.Clocks[k])
		}
	}
	slices.SortFunc(write, func(a, b *domain.Clock) int {
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	if err := upsertClocks(ctx, tx, write); err != nil {
		return fmt.Errorf("save clocks: %w", err)
	}
	return insertReactions(ctx, tx, reactions, now)
}

func eventTimeOf(ev *complaintv1.Event) time.Time {
	if t := ev.GetOccurredAt(); t != nil && !t.AsTime().IsZero() {
		return t.AsTime()
	}
	return ev.GetRecordedAt().AsTime()
}

func insertReactions(ctx context.Context, tx pgx.Tx, rs []domain.Reaction, now time.Time) error {
	if len(rs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, r := range rs {
		body, err := json.Marshal(r)
		if err != nil {
			return err
		}
		b.Queue(`INSERT INTO escalation.reactions (reaction_id, complaint_id, shop_id, kind, body, created_at, fire_at)
			VALUES ($1,$2,$3,$4,$5,$6,$6) ON CONFLICT (reaction_id) DO NOTHING`,
			r.ID, r.ComplaintID, r.ShopID, string(r.Kind), body, now)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("save reactions: %w", err)
	}
	// Wake the pollers at commit: a major complaint must reach a supervisor in seconds.
	_, err := tx.Exec(ctx, `SELECT pg_notify('escalation_reactions', '')`)
	return err
}

// countFiling counts a filing in its window for its category and each of its
// products, and raises a spike reaction the first time a window crosses its
// threshold (one per shop, dimension, value and window: the id says so).
func (p *Projection) countFiling(ctx context.Context, tx pgx.Tx, c *domain.Complaint, at time.Time) ([]domain.Reaction, error) {
	bucket := at.UTC().Truncate(p.spike.Window)
	type dv struct{ dim, value string }
	var dims []dv
	if c.Category != "" {
		dims = append(dims, dv{"category", c.Category})
	}
	for _, prod := range c.Products {
		dims = append(dims, dv{"product", prod})
	}
	var out []domain.Reaction
	for _, d := range dims {
		var n, base int64
		err := tx.QueryRow(ctx, `WITH up AS (
				INSERT INTO escalation.filings (shop_id, dim, value, bucket, n) VALUES ($1,$2,$3,$4,1)
				ON CONFLICT (shop_id, dim, value, bucket) DO UPDATE SET n = escalation.filings.n + 1 RETURNING n)
			SELECT (SELECT n FROM up), COALESCE((SELECT sum(n) FROM escalation.filings
				WHERE shop_id=$1 AND dim=$2 AND value=$3 AND bucket >= $5 AND bucket < $4), 0)::bigint`,
			c.ShopID, d.dim, d.value, bucket, bucket.Add(-time.Duration(p.spike.Baselines)*p.spike.Window)).Scan(&n, &base)
		if err != nil {
			return nil, fmt.Errorf("count filing: %w", err)
		}
		mean := float64(base) / float64(max(p.spike.Baselines, 1))
		if n < p.spike.MinCount || float64(n) <= p.spike.Factor*mean {
			continue
		}
		r := domain.Reaction{
			ID: domain.DerivedID("spike", c.ShopID, d.dim, d.value, bucket.Format(time.RFC3339)), Kind: domain.ReactSpike,
			ShopID: c.ShopID, At: at, Count: n, Baseline: int64(mean + 0.5),
		}
		if d.dim == "category" {
			r.Category = d.value
		} else {
			r.Product = d.value
		}
		out = append(out, r)
	}
	return out, nil
}
