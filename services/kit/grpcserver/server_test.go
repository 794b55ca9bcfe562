package grpcserver_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/grpcserver"
)

// A tiny hand-written service (no protos): Echo returns the caller's
// subject, Panic panics, Count streams n messages.
const svcName = "kesu.test.v1.Echo"

type echoAPI interface{ isEcho() }
type echoServer struct{}

func (echoServer) isEcho() {}

func unary(name string, h func(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)) grpc.MethodDesc {
	return grpc.MethodDesc{
		MethodName: name,
		Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			call := func(ctx context.Context, req any) (any, error) { return h(ctx, req.(*wrapperspb.StringValue)) }
			if icpt == nil {
				return call(ctx, in)
			}
			return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/" + svcName + "/" + name}, call)
		},
	}
}

var echoDesc = grpc.ServiceDesc{
	ServiceName: svcName,
	HandlerType: (*echoAPI)(nil),
	Methods: []grpc.MethodDesc{
		unary("Echo", func(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			id, _ := auth.FromContext(ctx)
			return wrapperspb.String(id.Subject), nil
		}),
		unary("Panic", func(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
			var m map[string]int
			m["boom"]++ // nil map write: a real bug, not a staged panic(string)
			return nil, nil
		}),
	},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Count",
		ServerStreams: true,
		Handler: func(_ any, ss grpc.ServerStream) error {
			in := new(wrapperspb.StringValue)
			if err := ss.RecvMsg(in); err != nil {
				return err
			}
			id, _ := auth.FromContext(ss.Context())
			for range 3 {
				if err := ss.SendMsg(wrapperspb.String(id.Subject)); err != nil {
					return err
				}
			}
			return nil
		},
	}},
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var hmacKey = []byte("grpcserver-test-hmac-key-0123456789")

type fixture struct {
	conn   *grpc.ClientConn
	logs   *syncBuffer
	cancel context.CancelFunc
	served chan error
}

func start(t *testing.T) *fixture {
	t.Helper()
	v, err := auth.NewVerifier(auth.Config{HMACKey: hmacKey})
	if err != nil {
		t.Fatal(err)
	}
	authz, err := auth.NewAuthorizer(v, auth.Policy{
		"/" + svcName + "/Echo":  {auth.RoleAgent, auth.RoleSupervisor},
		"/" + svcName + "/Panic": {auth.RoleAgent},
		"/" + svcName + "/Count": {auth.RoleAgent},
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	srv, err := grpcserver.New(grpcserver.Options{
		Logger:        slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Authorizer:    authz,
		ShutdownGrace: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.RegisterService(&echoDesc, echoServer{})

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &fixture{logs: logs, cancel: cancel, served: make(chan error, 1)}
	go func() { f.served <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		<-f.served
	})
	f.conn, err = grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.conn.Close() })
	return f
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func token(t *testing.T, role auth.Role) grpc.CallOption {
	t.Helper()
	id := auth.Identity{Subject: string(role) + "-1", Role: role}
	if role == auth.RoleAgent {
		id.Tier = 1
	}
	tok, err := auth.Mint(hmacKey, auth.ClaimsFor(id), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return grpc.PerRPCCredentials(auth.Bearer(tok))
}

func (f *fixture) echo(ctx context.Context, method, payload string, opts ...grpc.CallOption) (string, error) {
	out := new(wrapperspb.StringValue)
	err := f.conn.Invoke(ctx, "/"+svcName+"/"+method, wrapperspb.String(payload), out, opts...)
	return out.GetValue(), err
}

func TestHealthIsPublicAndServing(t *testing.T) {
	ctx := testContext(t)
	f := start(t)
	hc := healthpb.NewHealthClient(f.conn)
	for _, svc := range []string{"", svcName} {
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			t.Fatalf("health %q without a token: %v", svc, err)
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health %q = %s, want SERVING", svc, resp.GetStatus())
		}
	}
}

func TestProtectedMethodAuthorization(t *testing.T) {
	ctx := testContext(t)
	f := start(t)
	tests := []struct {
		name string
		opts []grpc.CallOption
		code codes.Code
		msg  string
	}{
		{"no token", nil, codes.Unauthenticated, "no bearer token"},
		{"wrong role", []grpc.CallOption{token(t, auth.RoleBI)}, codes.PermissionDenied, `role "bi" may not call /kesu.test.v1.Echo/Echo`},
		{"allowed role", []grpc.CallOption{token(t, auth.RoleSupervisor)}, codes.OK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.echo(ctx, "Echo", "hi", tt.opts...)
			if c := status.Code(err); c != tt.code {
				t.Fatalf("code = %s (%v), want %s", c, err, tt.code)
			}
			if tt.code == codes.OK && got != "supervisor-1" {
				t.Errorf("handler saw subject %q, want supervisor-1", got)
			}
			if tt.msg != "" && !strings.Contains(status.Convert(err).Message(), tt.msg) {
				t.Errorf("message %q lacks %q", status.Convert(err).Message(), tt.msg)
			}
		})
	}
}

func TestStreamAuthorization(t *testing.T) {
	ctx := testContext(t)
	f := start(t)
	desc := &grpc.StreamDesc{StreamName: "Count", ServerStreams: true}
	count := func(opts ...grpc.CallOption) ([]string, error) {
		cs, err := f.conn.NewStream(ctx, desc, "/"+svcName+"/Count", opts...)
		if err != nil {
			return nil, err
		}
		if err := cs.SendMsg(wrapperspb.String("go")); err != nil {
			return nil, err
		}
		if err := cs.CloseSend(); err != nil {
			return nil, err
		}
		var got []string
		for {
			m := new(wrapperspb.StringValue)
			if err := cs.RecvMsg(m); errors.Is(err, io.EOF) {
				return got, nil
			} else if err != nil {
				return got, err
			}
			got = append(got, m.GetValue())
		}
	}
	if _, err := count(); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("stream without token: %v, want Unauthenticated", err)
	}
	got, err := count(token(t, auth.RoleAgent))
	if err != nil || len(got) != 3 || got[0] != "agent-1" {
		t.Fatalf("stream with agent token = %v, %v; want three messages for agent-1", got, err)
	}
}

func TestPanicIsRecovered(t *testing.T) {
	ctx := testContext(t)
	f := start(t)
	_, err := f.echo(ctx, "Panic", "x", token(t, auth.RoleAgent))
	if status.Code(err) != codes.Internal || status.Convert(err).Message() != "internal error" {
		t.Fatalf("panicking handler: %v, want Internal without details", err)
	}
	// The process survived and keeps serving.
	if got, err := f.echo(ctx, "Echo", "again", token(t, auth.RoleAgent)); err != nil || got != "agent-1" {
		t.Fatalf("call after the panic = %q, %v", got, err)
	}
	logs := f.logs.String()
	for _, want := range []string{"grpc handler panicked", "assignment to entry in nil map", "server_test.go", `"code":"Internal"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestCallLogsHaveNoPayloads(t *testing.T) {
	ctx := testContext(t)
	f := start(t)
	const personal = "张三 13800138000 上海市浦东新区"
	if _, err := f.echo(ctx, "Echo", personal, token(t, auth.RoleAgent)); err != nil {
		t.Fatal(err)
	}
	logs := f.logs.String()
	if strings.Contains(logs, "13800138000") || strings.Contains(logs, "张三") {
		t.Fatalf("call log prints the payload:\n%s", logs)
	}
	for _, want := range []string{`"method":"/kesu.test.v1.Echo/Echo"`, `"code":"OK"`, `"duration"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("call log lacks %s:\n%s", want, logs)
		}
	}
}

func TestShutdownReportsNotServingAndReturns(t *testing.T) {
	ctx := testContext(t)
	f := start(t)
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	watch, err := healthpb.NewHealthClient(f.conn).Watch(wctx, &healthpb.HealthCheckRequest{Service: svcName})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := watch.Recv(); err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first watch status = %v, %v", first, err)
	}
	f.cancel()
	next, err := watch.Recv()
	if err != nil || next.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("status on shutdown = %v, %v; want NOT_SERVING", next, err)
	}
	wcancel() // the watcher goes away, letting the graceful stop complete
	select {
	case err := <-f.served:
		if err != nil {
			t.Fatalf("Serve = %v, want nil after a requested shutdown", err)
		}
		f.served <- nil // for the cleanup
	case <-ctx.Done():
		t.Fatal("Serve did not return after its context ended")
	}
}

func TestNewRequiresAuthorizer(t *testing.T) {
	_, err := grpcserver.New(grpcserver.Options{Logger: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, grpcserver.ErrNoAuthorizer) {
		t.Fatalf("New without an Authorizer = %v, want ErrNoAuthorizer", err)
	}
}
