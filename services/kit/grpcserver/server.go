// Package grpcserver builds the gRPC server every service runs: OpenTelemetry
// stats handler, panic recovery, call logging without payloads, bearer-token
// authorization, the standard health service and reflection, and a Serve
// that shuts down gracefully when its context ends.
package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/kesu315/kesu/services/kit/auth"
)

// DefaultShutdownGrace is how long Serve lets in-flight calls finish.
const DefaultShutdownGrace = 10 * time.Second

// ErrNoAuthorizer is returned by New when Options has neither an Authorizer
// nor an explicit NoAuth.
var ErrNoAuthorizer = errors.New("grpcserver: an Authorizer is required (set NoAuth only in tests and tools)")

// Options configures New.
type Options struct {
	// Logger receives call logs and recovered panics; required.
	Logger *slog.Logger
	// Authorizer authenticates calls and applies the role policy.
	Authorizer *auth.Authorizer
	// NoAuth serves without authentication; for tests and local tools only.
	NoAuth bool

	// TracerProvider, MeterProvider and Propagator feed the otelgrpc stats
	// handler; nil means no-op providers and W3C TraceContext.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	Propagator     propagation.TextMapPropagator

	// ShutdownGrace bounds the graceful stop; default DefaultShutdownGrace.
	ShutdownGrace time.Duration

	// Unary and Stream interceptors run after authorization, innermost.
	Unary  []grpc.UnaryServerInterceptor
	Stream []grpc.StreamServerInterceptor
	// ServerOptions are passed to grpc.NewServer last.
	ServerOptions []grpc.ServerOption
}

// Server is a grpc.Server with its health service. Register services on
// the embedded *grpc.Server before calling Serve.
type Server struct {
	*grpc.Server
	// Health is the standard grpc.health.v1 service; Serve marks every
	// registered service SERVING and, on shutdown, NOT_SERVING.
	Health *health.Server

	log   *slog.Logger
	grace time.Duration
}

// New returns a server with the interceptors, health and reflection
// installed.
func New(opts Options) (*Server, error) {
	if opts.Logger == nil {
		return nil, errors.New("grpcserver: Options.Logger is required")
	}
	if opts.Authorizer == nil && !opts.NoAuth {
		return nil, ErrNoAuthorizer
	}
	tp := opts.TracerProvider
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	mp := opts.MeterProvider
	if mp == nil {
		mp = metricnoop.NewMeterProvider()
	}
	prop := opts.Propagator
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	unary := []grpc.UnaryServerInterceptor{logUnary(opts.Logger), recoverUnary(opts.Logger)}
	stream := []grpc.StreamServerInterceptor{logStream(opts.Logger), recoverStream(opts.Logger)}
	if opts.Authorizer != nil {
		unary = append(unary, opts.Authorizer.UnaryInterceptor())
		stream = append(stream, opts.Authorizer.StreamInterceptor())
	}
	unary = append(unary, opts.Unary...)
	stream = append(stream, opts.Stream...)

	sopts := append([]grpc.ServerOption{
		grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(tp),
			otelgrpc.WithMeterProvider(mp),
			otelgrpc.WithPropagators(prop),
		)),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
	}, opts.ServerOptions...)

	s := &Server{
		Server: grpc.NewServer(sopts...),
		Health: health.NewServer(),
		log:    opts.Logger,
		grace:  opts.ShutdownGrace,
	}
	if s.grace <= 0 {
		s.grace = DefaultShutdownGrace
	}
	healthpb.RegisterHealthServer(s.Server, s.Health)
	reflection.Register(s.Server)
	return s, nil
}

// SetServing sets the health status of one service ("" is the whole server).
func (s *Server) SetServing(service string, serving bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.Health.SetServingStatus(service, st)
}

// Serve marks every registered service SERVING and serves on lis until ctx
// ends; then it marks them NOT_SERVING, stops accepting calls, lets
// in-flight calls finish within the grace period and then cuts the rest.
// It returns nil after a shutdown asked for by ctx.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	for name := range s.GetServiceInfo() {
		s.SetServing(name, true)
	}
	s.SetServing("", true)

	errc := make(chan error, 1)
	go func() { errc <- s.Server.Serve(lis) }()
	select {
	case err := <-errc:
		if err != nil {
			return fmt.Errorf("grpc serve %s: %w", lis.Addr(), err)
		}
		return nil
	case <-ctx.Done():
	}

	s.Health.Shutdown()
	stopped := make(chan struct{})
	go func() {
		s.GracefulStop()
		close(stopped)
	}()
	t := time.NewTimer(s.grace)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
		s.log.Warn("grpc graceful stop timed out; cutting remaining calls", "grace", s.grace)
		s.Stop()
		<-stopped
	}
	<-errc
	return nil
}
