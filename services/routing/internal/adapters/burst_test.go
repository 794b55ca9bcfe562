package adapters_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	routingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/routing/v1"
)

// BenchmarkReactorBurst files b.N complaints while the projection is
// stopped, then measures how fast it routes and assigns them all (durably,
// through the stream) with 200 agents online: the reactor's throughput.
// Baseline: b.N plain synchronous JetStream publishes.
func BenchmarkReactorBurst(b *testing.B) {
	h := start(b)
	for i := range 200 {
		h.agent(fmt.Sprintf("agent-%03d", i), 3, 50, routingv1.Presence_PRESENCE_ONLINE,
			"after_sales_online", "refund", "order", "hotline_400", "negative_review", "vip", "platform", "supervisor", "pr")
	}
	h.settle()
	h.stop()
	for range b.N {
		h.file(filing{})
	}
	ctx := context.Background()
	// Its own stream: raw messages on complaints.* would not be events.
	if _, err := h.js.CreateStream(ctx, jetstream.StreamConfig{Name: "BURST_BASELINE", Subjects: []string{"burst.>"}, Storage: jetstream.FileStorage, Replicas: h.replicas}); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 300)
	base := time.Now()
	for i := range b.N {
		if _, err := h.js.Publish(ctx, "burst."+uuid.Must(uuid.NewV7()).String(), payload, jetstream.WithMsgID(fmt.Sprint("burst-", i))); err != nil {
			b.Fatal(err)
		}
	}
	baseline := time.Since(base)
	b.ResetTimer()
	s := time.Now()
	h.restart()
	h.settle()
	el := time.Since(s)
	b.ReportMetric(float64(b.N)/el.Seconds(), "assignments/s")
	b.ReportMetric(float64(b.N)/baseline.Seconds(), "baseline-publishes/s")
	b.ReportMetric(baseline.Seconds()/el.Seconds(), "ratio")
}
