package adapters

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// RegisterQueueMetrics exports each queue's depth and waiting count
// (DESIGN §9) from routing.queue_counts, read when the metrics are collected.
func RegisterQueueMetrics(mp metric.MeterProvider, pool *pgxpool.Pool) error {
	meter := mp.Meter("github.com/kesu315/kesu/services/routing")
	depth, err := meter.Int64ObservableGauge("kesu.routing.queue.depth", metric.WithUnit("{complaint}"),
		metric.WithDescription("Open complaints in the queue"))
	if err != nil {
		return fmt.Errorf("routing metrics: %w", err)
	}
	waiting, err := meter.Int64ObservableGauge("kesu.routing.queue.waiting", metric.WithUnit("{complaint}"),
		metric.WithDescription("Open complaints in the queue that no agent holds"))
	if err != nil {
		return fmt.Errorf("routing metrics: %w", err)
	}
	_, err = meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		rs, err := pool.Query(ctx, `SELECT queue, sum(open)::bigint, sum(unassigned)::bigint FROM `+Schema+`.queue_counts GROUP BY queue`)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var q string
			var d, w int64
			if err := rs.Scan(&q, &d, &w); err != nil {
				return err
			}
			set := metric.WithAttributeSet(attribute.NewSet(attribute.String("queue", q)))
			o.ObserveInt64(depth, d, set)
			o.ObserveInt64(waiting, w, set)
		}
		return rs.Err()
	}, depth, waiting)
	if err != nil {
		return fmt.Errorf("routing metrics: %w", err)
	}
	return nil
}

// projectionMetrics say where a batch's time goes and how its reactions were
// decided: on the projection's state (no read), on that state carried forward
// by the complaint's tail (a short read), or by React's own load-fold-decide;
// and whether each landed, decided nothing or found the complaint moved on.
type projectionMetrics struct {
	phase     metric.Float64Histogram
	reactions metric.Int64Counter
}

func newProjectionMetrics(mp metric.MeterProvider) (*projectionMetrics, error) {
	meter := mp.Meter("github.com/kesu315/kesu/services/routing")
	phase, err := meter.Float64Histogram("kesu.routing.batch.phase.duration", metric.WithUnit("s"),
		metric.WithDescription("Time a projection batch spent per phase: fold, write, roster, rounds (read_ahead within it), react, write_own"),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
	if err != nil {
		return nil, fmt.Errorf("routing metrics: %w", err)
	}
	reactions, err := meter.Int64Counter("kesu.routing.reactions", metric.WithUnit("{reaction}"),
		metric.WithDescription("Reactions by how they were decided (path: state, tail, load) and what came of them (result: appended, nothing, moved_on)"))
	if err != nil {
		return nil, fmt.Errorf("routing metrics: %w", err)
	}
	return &projectionMetrics{phase: phase, reactions: reactions}, nil
}

func (m *projectionMetrics) since(ctx context.Context, phase string, t time.Time) {
	if m != nil {
		m.phase.Record(ctx, time.Since(t).Seconds(), metric.WithAttributes(attribute.String("phase", phase)))
	}
}

func (m *projectionMetrics) reacted(ctx context.Context, path, result string, n int) {
	if m != nil && n > 0 {
		m.reactions.Add(ctx, int64(n), metric.WithAttributes(attribute.String("path", path), attribute.String("result", result)))
	}
}
