package adapters_test

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/kesu315/kesu/services/routing/internal/adapters"
)

func TestQueueDepthMetrics(t *testing.T) {
	h := start(t)
	h.file(filing{})
	h.file(filing{})
	h.settle()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	if err := adapters.RegisterQueueMetrics(mp, h.db); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			g, ok := m.Data.(metricdata.Gauge[int64])
			if !ok {
				continue
			}
			for _, dp := range g.DataPoints {
				if q, _ := dp.Attributes.Value("queue"); q.AsString() == "after_sales_online" {
					got[m.Name] = dp.Value
				}
			}
		}
	}
	if got["kesu.routing.queue.depth"] != 2 || got["kesu.routing.queue.waiting"] != 2 {
		t.Errorf("metrics %v", got)
	}
}
