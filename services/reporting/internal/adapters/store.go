package adapters

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/reporting/internal/domain"
)

// Store reads the aggregates of a shop's season from the projection: the
// groups and distributions the projection keeps up to date, and the listed
// complaints through partial indexes. A season of a million complaints reads
// a few thousand rows, not a million.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns the store.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// grouped reads the groups of a shop's season; dims limits them ("total" is always read).
func (s *Store) grouped(ctx context.Context, shop string, season int, dims []string, agg *domain.Aggregates) error {
	rows, err := s.pool.Query(ctx, "SELECT "+strings.Join(groupColumns[2:], ", ")+" FROM "+Schema+".season_groups "+
		"WHERE shop_id = $1 AND season = $2 AND (dim = 'total' OR dim = ANY($3)) AND complaints <> 0", shop, season, dims)
	if err != nil {
		return fmt.Errorf("read groups: %w", err)
	}
	defer rows.Close()
	agg.By = map[string][]domain.Keyed{}
	for rows.Next() {
		var (
			dim, key, label string
			c               domain.Counters
		)
		targets := []any{&dim, &key, &label}
		for i := range c {
			targets = append(targets, &c[i])
		}
		if err := rows.Scan(targets...); err != nil {
			return fmt.Errorf("scan group: %w", err)
		}
		if dim == domain.DimTotal {
			agg.Total = c.Metrics()
			continue
		}
		agg.By[dim] = append(agg.By[dim], domain.Keyed{Key: key, Label: label, Metrics: c.Metrics()})
	}
	return rows.Err()
}

var allDims = []string{domain.DimPhase, domain.DimDay, domain.DimChannel, domain.DimCategory, domain.DimProduct, domain.DimTeam,
	domain.DimTier, domain.DimAgent, domain.DimRepeat, domain.DimRemedyKind, domain.DimRetention, domain.DimLevel, domain.DimTransfers}

// stats reads a measure's distribution for the season and per phase.
func (s *Store) stats(ctx context.Context, shop string, season int, measure string, scale float64) (map[string]domain.Stats, error) {
	rows, err := s.pool.Query(ctx, "SELECT phase, value, n FROM "+Schema+".season_values WHERE shop_id = $1 AND season = $2 AND measure = $3 ORDER BY value", shop, season, measure)
	if err != nil {
		return nil, fmt.Errorf("read values: %w", err)
	}
	defer rows.Close()
	by := map[string][]domain.ValueCount{}
	for rows.Next() {
		var (
			phase string
			v     domain.ValueCount
		)
		if err := rows.Scan(&phase, &v.Value, &v.N); err != nil {
			return nil, err
		}
		by[phase] = append(by[phase], v)
		if n := len(by[""]); n > 0 && by[""][n-1].Value == v.Value {
			by[""][n-1].N += v.N
		} else {
			by[""] = append(by[""], v)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := map[string]domain.Stats{}
	for phase, vals := range by {
		out[phase] = domain.Distribution(vals, scale)
	}
	return out, nil
}

func (s *Store) escalations(ctx context.Context, shop string, season int) ([]domain.EscalationCount, error) {
	rows, err := s.pool.Query(ctx, "SELECT to_level, trigger, count(*) FROM "+Schema+".escalations WHERE shop_id = $1 AND season = $2 GROUP BY 1, 2", shop, season)
	if err != nil {
		return nil, fmt.Errorf("escalations: %w", err)
	}
	defer rows.Close()
	var out []domain.EscalationCount
	for rows.Next() {
		var (
			level int32
			e     domain.EscalationCount
		)
		if err := rows.Scan(&level, &e.Trigger, &e.Count); err != nil {
			return nil, err
		}
		e.Level = domain.LevelID(complaintv1.EscalationLevel(level))
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *Store) items(ctx context.Context, shop string, season int, where string, now time.Time) ([]domain.Item, error) {
	rows, err := s.pool.Query(ctx, "SELECT complaint_id::text, filed_at, phase, channel, category, severity, major_reasons, status, agent_id, team, escalation_level "+
		"FROM "+Schema+".complaint_facts WHERE shop_id = $1 AND season = $2 AND "+where+" ORDER BY filed_at, complaint_id LIMIT $3", shop, season, domain.ListLimit)
	if err != nil {
		return nil, fmt.Errorf("list complaints: %w", err)
	}
	defer rows.Close()
	out := []domain.Item{}
	for rows.Next() {
		var (
			it    domain.Item
			level int32
		)
		if err := rows.Scan(&it.ComplaintID, &it.FiledAt, &it.Phase, &it.Channel, &it.Category, &it.Severity, &it.Reasons, &it.Status, &it.Owner, &it.Team, &level); err != nil {
			return nil, err
		}
		it.FiledAt = it.FiledAt.UTC()
		it.Level = domain.LevelID(complaintv1.EscalationLevel(level))
		it.AgeHours = max(now.Sub(it.FiledAt).Hours(), 0)
		out = append(out, it)
	}
	return out, rows.Err()
}

// Aggregates reads everything the report of a shop's season needs.
func (s *Store) Aggregates(ctx context.Context, shop string, season int, now time.Time) (*domain.Aggregates, error) {
	agg := &domain.Aggregates{}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.grouped(gctx, shop, season, allDims, agg) })
	g.Go(func() (err error) {
		agg.FirstResponse, err = s.stats(gctx, shop, season, domain.MeasureFirstResponse, 1)
		return err
	})
	g.Go(func() (err error) {
		agg.Resolution, err = s.stats(gctx, shop, season, domain.MeasureResolution, 1.0/60)
		return err
	})
	g.Go(func() (err error) { agg.Escalations, err = s.escalations(gctx, shop, season); return err })
	g.Go(func() (err error) { agg.Major, err = s.items(gctx, shop, season, "major", now); return err })
	g.Go(func() (err error) {
		agg.Unresolved, err = s.items(gctx, shop, season, "status = 'open'", now)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return agg, nil
}

// Overview reads the volume-only aggregates (totals, by phase, by day) used
// to compare with last season; nil when the season has no complaints.
func (s *Store) Overview(ctx context.Context, shop string, season int) (*domain.Aggregates, error) {
	agg := &domain.Aggregates{}
	if err := s.grouped(ctx, shop, season, []string{domain.DimPhase, domain.DimDay}, agg); err != nil {
		return nil, err
	}
	if agg.Total.Complaints == 0 {
		return nil, nil
	}
	return agg, nil
}
