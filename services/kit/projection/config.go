package projection

import (
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/kesu315/kesu/services/kit/eventstore"
)

// Defaults of Config.
const (
	DefaultBatchSize    = 256
	DefaultMaxWait      = 5 * time.Second
	DefaultAckWait      = time.Minute
	DefaultBatchTimeout = 2 * time.Minute
	DefaultLagInterval  = 15 * time.Second
	DefaultRebuildChunk = 4096
)

// Config names and sizes a projection.
type Config struct {
	// Name is the durable consumer's name and the checkpoint's key, e.g.
	// "routing-queues". Letters, digits, '-' and '_'.
	Name string
	// Schema is the owning service's schema; the checkpoint lives in
	// <Schema>.projection_checkpoints, created if missing.
	Schema string
	// Stream defaults to COMPLAINTS.
	Stream string
	// FilterSubject defaults to complaints.*.
	FilterSubject string
	// BatchSize is the most events fetched and applied in one transaction;
	// default 256.
	BatchSize int
	// MaxWait bounds one fetch when the stream is idle; default 5s. It is
	// also how long a graceful stop may wait for an idle fetch to end.
	MaxWait time.Duration
	// AckWait is the consumer's redelivery timeout; default 1m.
	AckWait time.Duration
	// BatchTimeout bounds one batch's transaction. The batch in flight when
	// Run's context is cancelled still completes within it; default 2m.
	BatchTimeout time.Duration
	// LagInterval is how often the lag gauge is refreshed; default 15s.
	LagInterval time.Duration
	// RebuildChunk is how many events Rebuild hands to Stage at a time;
	// default 4096.
	RebuildChunk int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// MeterProvider defaults to the global one (otel.GetMeterProvider()).
	MeterProvider metric.MeterProvider
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// withDefaults validates c and fills its zero fields; every problem is
// reported, each naming the field.
func (c Config) withDefaults() (Config, error) {
	var problems []string
	if !nameRE.MatchString(c.Name) {
		problems = append(problems, fmt.Sprintf("Name: %q must be 1..64 letters, digits, '-' or '_'", c.Name))
	}
	if c.Schema == "" || len(c.Schema) > 63 {
		problems = append(problems, fmt.Sprintf("Schema: %q must be 1..63 bytes", c.Schema))
	}
	if c.Stream == "" {
		c.Stream = eventstore.StreamComplaints
	}
	if strings.ContainsAny(c.Stream, ".*> \t") {
		problems = append(problems, fmt.Sprintf("Stream: %q is not a stream name", c.Stream))
	}
	if c.FilterSubject == "" {
		c.FilterSubject = eventstore.SubjectComplaints
	}
	ints := []struct {
		name     string
		v        *int
		def, max int
	}{
		{"BatchSize", &c.BatchSize, DefaultBatchSize, 10000},
		{"RebuildChunk", &c.RebuildChunk, DefaultRebuildChunk, 1 << 20},
	}
	for _, f := range ints {
		if *f.v == 0 {
			*f.v = f.def
		}
		if *f.v < 1 || *f.v > f.max {
			problems = append(problems, fmt.Sprintf("%s: %d is outside 1..%d", f.name, *f.v, f.max))
		}
	}
	durs := []struct {
		name     string
		v        *time.Duration
		def, min time.Duration
	}{
		{"MaxWait", &c.MaxWait, DefaultMaxWait, 100 * time.Millisecond},
		{"AckWait", &c.AckWait, DefaultAckWait, time.Second},
		{"BatchTimeout", &c.BatchTimeout, DefaultBatchTimeout, time.Second},
		{"LagInterval", &c.LagInterval, DefaultLagInterval, 10 * time.Millisecond},
	}
	for _, f := range durs {
		if *f.v == 0 {
			*f.v = f.def
		}
		if *f.v < f.min {
			problems = append(problems, fmt.Sprintf("%s: %s is below the minimum %s", f.name, *f.v, f.min))
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if len(problems) > 0 {
		return c, fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(problems, "; "))
	}
	return c, nil
}
