package telemetry_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/kesu315/kesu/services/kit/telemetry"
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func setup(t *testing.T) *telemetry.Providers {
	t.Helper()
	p, err := telemetry.Setup(testContext(t), "routing", "v0.0.0-test")
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

func TestSetupExporterChoice(t *testing.T) {
	tests := []struct {
		value     string
		exporting bool
		wantErr   string
	}{
		{value: "", exporting: false}, // OpenTelemetry would default to otlp; we do not
		{value: "none", exporting: false},
		{value: "otlp", exporting: true},
		{value: "zipkin-please", wantErr: `OTEL_TRACES_EXPORTER="zipkin-please"`},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			t.Setenv("OTEL_TRACES_EXPORTER", tt.value)
			// Point OTLP at a closed local port so nothing leaves the machine.
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
			p, err := telemetry.Setup(testContext(t), "intake", "test")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Setup error = %v, want mention of %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Setup: %v", err)
			}
			if p.Exporting != tt.exporting {
				t.Errorf("Exporting = %v, want %v", p.Exporting, tt.exporting)
			}
			// Shut down quickly: the batcher may try to flush to the closed port.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = p.Shutdown(ctx)
		})
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestMetricsEndpointServesOTelAndRuntimeMetrics(t *testing.T) {
	p := setup(t)
	counter, err := p.Meter.Meter("kesu/test").Int64Counter("kesu_complaints_routed")
	if err != nil {
		t.Fatal(err)
	}
	counter.Add(testContext(t), 3)

	srv := httptest.NewServer(telemetry.NewMux(p.MetricsHandler(), telemetry.NewReadiness()))
	t.Cleanup(srv.Close)
	code, body := get(t, srv.URL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{"kesu_complaints_routed_total", `service_name="routing"`, "go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	ready := telemetry.NewReadiness()
	srv := httptest.NewServer(telemetry.NewMux(http.NotFoundHandler(), ready))
	t.Cleanup(srv.Close)

	natsUp := true
	ready.Add("nats", func(context.Context) error {
		if !natsUp {
			return errors.New("disconnected")
		}
		return nil
	})
	ready.Add("postgres", func(context.Context) error { return nil })

	steps := []struct {
		name      string
		act       func()
		readyCode int
		readyBody []string
	}{
		{"all checks pass", func() {}, 200, []string{"nats: ok", "postgres: ok"}},
		{"nats down", func() { natsUp = false }, 503, []string{"nats: disconnected", "postgres: ok"}},
		{"nats back", func() { natsUp = true }, 200, []string{"nats: ok"}},
		{"draining", ready.SetDraining, 503, []string{"draining"}},
	}
	for _, s := range steps {
		s.act()
		if code, _ := get(t, srv.URL+"/healthz"); code != http.StatusOK {
			t.Errorf("%s: /healthz = %d, want 200 while the process is up", s.name, code)
		}
		code, body := get(t, srv.URL+"/readyz")
		if code != s.readyCode {
			t.Errorf("%s: /readyz = %d, want %d (%s)", s.name, code, s.readyCode, body)
		}
		for _, w := range s.readyBody {
			if !strings.Contains(body, w) {
				t.Errorf("%s: /readyz body %q lacks %q", s.name, body, w)
			}
		}
	}
}

func TestReadinessCheckTimesOut(t *testing.T) {
	ready := telemetry.NewReadiness()
	ready.Add("stuck", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	ok, res := ready.Check(testContext(t))
	if ok || len(res) != 1 || !errors.Is(res[0].Err, context.DeadlineExceeded) {
		t.Fatalf("Check = %v %v, want not ready with a deadline error", ok, res)
	}
}

func runNATS(t *testing.T) *nats.Conn {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func TestTraceContextCrossesNATSAsLink(t *testing.T) {
	ctx := testContext(t)
	p := setup(t)
	nc := runNATS(t)
	sub, err := nc.SubscribeSync("complaints.test")
	if err != nil {
		t.Fatal(err)
	}

	tracer := p.Tracer.Tracer("test")
	pctx, producer := tracer.Start(ctx, "append")
	msg := nats.NewMsg("complaints.test")
	telemetry.InjectNATS(pctx, msg.Header)
	producer.End()
	if _, ok := msg.Header["traceparent"]; !ok {
		t.Fatalf("header keys %v: want exactly lower-case traceparent", msg.Header)
	}
	if _, ok := msg.Header["Traceparent"]; ok {
		t.Fatal("header was canonicalised to Traceparent")
	}
	if err := nc.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	got, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}

	// The consumer is already inside some other span (its poll loop); its
	// handling span must be a new root linked to the producer.
	cctx, loop := tracer.Start(ctx, "poll")
	defer loop.End()
	link := telemetry.ExtractNATSLink(cctx, got.Header)
	if link.SpanContext.TraceID() != producer.SpanContext().TraceID() || link.SpanContext.SpanID() != producer.SpanContext().SpanID() {
		t.Fatalf("link %v, want producer span %v", link.SpanContext, producer.SpanContext())
	}
	_, handle := tracer.Start(cctx, "project", telemetry.ConsumerSpanOptions(cctx, got.Header)...)
	defer handle.End()
	if handle.SpanContext().TraceID() == producer.SpanContext().TraceID() || handle.SpanContext().TraceID() == loop.SpanContext().TraceID() {
		t.Fatal("consumer span joined an existing trace; want a new root linked to the producer")
	}
	ro, ok := handle.(sdktrace.ReadOnlySpan)
	if !ok {
		t.Fatalf("span %T is not an SDK span", handle)
	}
	links := ro.Links()
	if len(links) != 1 || links[0].SpanContext.SpanID() != producer.SpanContext().SpanID() {
		t.Fatalf("links = %v, want one link to the producer", links)
	}
	if ro.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("kind = %v, want consumer", ro.SpanKind())
	}
}

func TestExtractNATSLinkWithoutTraceContext(t *testing.T) {
	ctx := testContext(t)
	p := setup(t)
	cctx, span := p.Tracer.Tracer("test").Start(ctx, "poll")
	defer span.End()
	for name, h := range map[string]nats.Header{
		"nil":            nil,
		"empty":          {},
		"canonical case": {"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}},
		"garbage":        {"traceparent": {"not-a-trace"}},
	} {
		if l := telemetry.ExtractNATSLink(cctx, h); l.SpanContext.IsValid() {
			t.Errorf("%s: got valid link %v, want none (and never the consumer's own span)", name, l.SpanContext)
		}
		if opts := telemetry.ConsumerSpanOptions(cctx, h); len(opts) != 2 {
			t.Errorf("%s: %d options, want new-root and kind only", name, len(opts))
		}
	}
}
