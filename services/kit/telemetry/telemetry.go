// Package telemetry sets up OpenTelemetry traces and Prometheus metrics for a
// service, carries trace context through NATS headers, and serves /metrics,
// /healthz and /readyz (DESIGN §9).
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// EnvTracesExporter selects the span exporter (otlp, console, none). Unlike
// the OpenTelemetry default (otlp), an unset value means no export: a service
// started on a laptop must not spend its time failing to reach a collector.
const EnvTracesExporter = "OTEL_TRACES_EXPORTER"

// Providers holds a service's telemetry.
type Providers struct {
	// Tracer records spans; they are exported only when OTEL_TRACES_EXPORTER
	// names an exporter.
	Tracer *sdktrace.TracerProvider
	// Meter records metrics into Registry.
	Meter *sdkmetric.MeterProvider
	// Propagator is W3C TraceContext, used on gRPC and NATS.
	Propagator propagation.TextMapPropagator
	// Registry is this service's own Prometheus registry (not the global
	// one): OpenTelemetry metrics plus Go runtime and process collectors.
	Registry *prometheus.Registry
	// Exporting reports whether spans leave the process.
	Exporting bool

	shutdown []func(context.Context) error
}

// Setup builds the providers for service at version. Exporter choice and
// endpoints follow the standard OTEL_* variables via autoexport, except that
// an unset OTEL_TRACES_EXPORTER means "none". Call Shutdown to flush.
func Setup(ctx context.Context, service, version string) (*Providers, error) {
	res, err := resource.New(ctx,
		resource.WithAttributes(
			attribute.String("service.name", service),
			attribute.String("service.version", version),
			attribute.String("service.namespace", "kesu"),
		),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil && res == nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}

	p := &Providers{
		Propagator: propagation.TraceContext{},
		Registry:   prometheus.NewRegistry(),
	}

	spanExp, err := autoexport.NewSpanExporter(ctx,
		autoexport.WithFallbackSpanExporter(func(context.Context) (sdktrace.SpanExporter, error) { return nil, nil }))
	if err != nil {
		return nil, fmt.Errorf("telemetry: %s=%q: %w", EnvTracesExporter, os.Getenv(EnvTracesExporter), err)
	}
	topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if spanExp != nil && !autoexport.IsNoneSpanExporter(spanExp) {
		topts = append(topts, sdktrace.WithBatcher(spanExp))
		p.Exporting = true
	}
	p.Tracer = sdktrace.NewTracerProvider(topts...)
	p.shutdown = append(p.shutdown, p.Tracer.Shutdown)

	if err := p.Registry.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("telemetry: go collector: %w", err)
	}
	if err := p.Registry.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("telemetry: process collector: %w", err)
	}
	promExp, err := otelprom.New(otelprom.WithRegisterer(p.Registry))
	if err != nil {
		return nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}
	p.Meter = sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(promExp))
	p.shutdown = append(p.shutdown, p.Meter.Shutdown)
	return p, nil
}

// MetricsHandler serves the Prometheus text format from Registry.
func (p *Providers) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(p.Registry, promhttp.HandlerOpts{Registry: p.Registry})
}

// Shutdown flushes pending spans and stops the providers.
func (p *Providers) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range p.shutdown {
		if err := f(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
