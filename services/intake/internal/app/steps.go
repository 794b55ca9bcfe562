package app

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Steps of a filing, timed one by one so a slow one is visible: a filing is
// a few round trips to NATS and Postgres, and which of them dominates under
// load is what decides the next optimisation.
const (
	StepSeal      = "seal"       // per-customer key (Postgres, group-committed) and encryption
	StepIndexRead = "index_read" // request-id log lookup, Postgres, batched (overlaps StepSeal)
	StepPrepare   = "prepare"    // seal and index read together, as the caller waits for them
	StepAppend    = "append"     // the filing's one durable write: Filed + Classified
	StepResolve   = "resolve"    // after a conflict: load the dispute's complaints, find the request
	StepFold      = "fold"       // ContactAdded onto the dispute's complaint (load, decide, append)
	StepTotal     = "total"      // the whole FileComplaint
)

// StepStats is the running count and total time of one step, process-wide:
// the benchmark prints it beside its throughput.
type StepStats struct {
	Count int64
	Total time.Duration
}

// Mean is the average duration of the step.
func (s StepStats) Mean() time.Duration {
	if s.Count == 0 {
		return 0
	}
	return s.Total / time.Duration(s.Count)
}

type stepCounter struct{ n, ns atomic.Int64 }

var stepTotals sync.Map // step name -> *stepCounter

// Steps returns the process-wide totals per step since start (or ResetSteps).
func Steps() map[string]StepStats {
	out := map[string]StepStats{}
	stepTotals.Range(func(k, v any) bool {
		c := v.(*stepCounter)
		out[k.(string)] = StepStats{Count: c.n.Load(), Total: time.Duration(c.ns.Load())}
		return true
	})
	return out
}

// ResetSteps zeroes the process-wide step totals.
func ResetSteps() {
	stepTotals.Range(func(_, v any) bool {
		c := v.(*stepCounter)
		c.n.Store(0)
		c.ns.Store(0)
		return true
	})
}

// stepTimer records step durations into an OTel histogram
// (kesu.intake.file.step.duration, attribute step) and the process totals.
type stepTimer struct {
	hist  metric.Float64Histogram
	attrs map[string]metric.MeasurementOption
}

func newStepTimer(mp metric.MeterProvider) *stepTimer {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	t := &stepTimer{attrs: map[string]metric.MeasurementOption{}}
	for _, s := range []string{StepSeal, StepIndexRead, StepPrepare, StepAppend, StepResolve, StepFold, StepTotal} {
		t.attrs[s] = metric.WithAttributeSet(attribute.NewSet(attribute.String("step", s)))
		stepTotals.LoadOrStore(s, &stepCounter{})
	}
	// A histogram that cannot be made leaves the process totals working.
	t.hist, _ = mp.Meter("github.com/kesu315/kesu/services/intake/app").Float64Histogram("kesu.intake.file.step.duration",
		metric.WithUnit("s"), metric.WithDescription("Duration of each step of FileComplaint"),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
	return t
}

// since records the time since start under step.
func (t *stepTimer) since(ctx context.Context, step string, start time.Time) {
	d := time.Since(start)
	if c, ok := stepTotals.Load(step); ok {
		c := c.(*stepCounter)
		c.n.Add(1)
		c.ns.Add(int64(d))
	}
	if t.hist != nil {
		t.hist.Record(context.WithoutCancel(ctx), d.Seconds(), t.attrs[step])
	}
}
