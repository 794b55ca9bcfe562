package telemetry

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// NATSCarrier adapts a nats.Header to a propagation.TextMapCarrier. The W3C
// keys are lower-case (traceparent, tracestate) and NATS headers are
// case-sensitive, so keys are used exactly as the propagator gives them:
// http.Header-style canonicalisation would write "Traceparent" and no other
// consumer would find it.
type NATSCarrier nats.Header

// Get returns the first value of key, matched exactly.
func (c NATSCarrier) Get(key string) string {
	if v := c[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set replaces the values of key, keeping the key's case.
func (c NATSCarrier) Set(key, value string) { c[key] = []string{value} }

// Keys lists the header keys.
func (c NATSCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

var traceContext = propagation.TraceContext{}

// InjectNATS writes the span context of ctx into h as traceparent and
// tracestate. h must be non-nil; nothing is written when ctx holds no span.
func InjectNATS(ctx context.Context, h nats.Header) {
	traceContext.Inject(ctx, NATSCarrier(h))
}

// ExtractNATSLink returns a link to the producer span recorded in h. A
// consumer starts its own root span with this link rather than a child of
// the producer: one event fans out to many consumers, possibly long after
// the request that produced it ended (DESIGN §2). When h holds no valid
// trace context the returned link's SpanContext is not valid.
func ExtractNATSLink(ctx context.Context, h nats.Header) trace.Link {
	// Extract into a context without a span: extracting into ctx would fall
	// back to the consumer's own current span when h carries none.
	_ = ctx
	sc := trace.SpanContextFromContext(traceContext.Extract(context.Background(), NATSCarrier(h)))
	return trace.Link{SpanContext: sc}
}

// ConsumerSpanOptions returns span start options for handling a message with
// headers h: a new root of kind consumer, linked to the producer when h
// carries a trace context.
func ConsumerSpanOptions(ctx context.Context, h nats.Header) []trace.SpanStartOption {
	opts := []trace.SpanStartOption{trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindConsumer)}
	if l := ExtractNATSLink(ctx, h); l.SpanContext.IsValid() {
		opts = append(opts, trace.WithLinks(l))
	}
	return opts
}
