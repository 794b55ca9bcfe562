package adapters

import (
	"context"
	"fmt"

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
