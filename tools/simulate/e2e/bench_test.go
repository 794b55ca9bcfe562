package e2e

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kesu315/kesu/tools/simulate/casework"
	"github.com/kesu315/kesu/tools/simulate/drive"
)

// BenchmarkFilingLoad pushes filings through intake's gRPC API as fast as 32
// callers can for a few seconds (KESU_BENCH_FULL=1: at 2 000/s for 5 minutes,
// the target of issue #8), then publishes as many same-sized messages
// straight to JetStream: the floor Kesu's filing stands on, measured in the
// same run. b.N is not used: the run is timed, the figures are the metrics.
func BenchmarkFilingLoad(b *testing.B) {
	s := startStack(b, time.Time{})
	benchLoad(b, s, nil)
}

// BenchmarkFilingToQueue is the same load with routing (and escalation and
// followup) running: it also measures filing → visible in its queue,
// asking routing (GetWork) every 10 ms about a filing sent every 20 ms.
func BenchmarkFilingToQueue(b *testing.B) {
	s := startFullStack(b, time.Time{}, 1, []string{"intake", "routing", "escalation", "followup"})
	benchLoad(b, s.stack, casework.NewRouting(dialService(b, s.addr["routing"]), []byte(hmacKey)))
}

func benchLoad(b *testing.B, s *stack, probe drive.QueueProbe) {
	o := drive.LoadOptions{Policy: s.policy, Seed: 1, Duration: 5 * time.Second, Concurrency: 32, Baseline: true, Queue: probe}
	if os.Getenv("KESU_BENCH_FULL") == "1" {
		o.Rate, o.Duration = 2000, 5*time.Minute
	}
	// KESU_BENCH_RATE measures latency below saturation, for
	// KESU_BENCH_DURATION (a Go duration).
	if r, err := strconv.ParseFloat(os.Getenv("KESU_BENCH_RATE"), 64); err == nil && r > 0 {
		o.Rate = r
	}
	if d, err := time.ParseDuration(os.Getenv("KESU_BENCH_DURATION")); err == nil && d > 0 {
		o.Duration = d
	}
	if o.Rate > 0 {
		// Enough callers that a slow second does not hold the schedule back.
		o.Concurrency = max(o.Concurrency, int(o.Rate/5))
	}
	var rep *drive.LoadReport
	for b.Loop() {
		var err error
		rep, err = drive.Load(context.Background(), s.target, o)
		if err != nil {
			b.Fatal(err)
		}
	}
	var out strings.Builder
	rep.Print(&out)
	b.Log("\n" + out.String())
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(rep.Throughput, "filings/s")
	b.ReportMetric(ms(rep.Filing.P50), "p50-ms")
	b.ReportMetric(ms(rep.Filing.P99), "p99-ms")
	b.ReportMetric(rep.Baseline.Throughput, "raw-publish/s")
	b.ReportMetric(ms(rep.Baseline.Publish.P99), "raw-p99-ms")
	b.ReportMetric(rep.Throughput/rep.Baseline.Throughput, "ratio")
	if probe != nil {
		b.ReportMetric(ms(rep.Visible.P50), "queue-p50-ms")
		b.ReportMetric(ms(rep.Visible.P99), "queue-p99-ms")
	}
	b.ReportMetric(0, "ns/op")
}
