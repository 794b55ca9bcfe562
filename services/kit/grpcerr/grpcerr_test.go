package grpcerr_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/kesu315/kesu/services/kit/grpcerr"
)

// roundTrip returns err as a client sees it after a real gRPC call to a
// server on 127.0.0.1 whose handler returns err.
func roundTrip(t *testing.T, err error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	lis, lerr := net.Listen("tcp", "127.0.0.1:0")
	if lerr != nil {
		t.Fatal(lerr)
	}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error { return err }))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, cerr := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if cerr != nil {
		t.Fatal(cerr)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn.Invoke(ctx, "/kesu.test.v1.Test/Do", &emptypb.Empty{}, &emptypb.Empty{})
}

func TestViolationsRoundTrip(t *testing.T) {
	var v grpcerr.Violations
	if v.Err() != nil {
		t.Fatal("no violations must be no error")
	}
	v.Add("shop_id", "required")
	v.Addf("items[2].quantity", "must be positive, got %d", -1)
	got := roundTrip(t, v.Err())

	st := status.Convert(got)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code = %s, want InvalidArgument", st.Code())
	}
	if want := "invalid request: shop_id: required; items[2].quantity: must be positive, got -1"; st.Message() != want {
		t.Errorf("message = %q, want %q", st.Message(), want)
	}
	want := []grpcerr.FieldViolation{{"shop_id", "required"}, {"items[2].quantity", "must be positive, got -1"}}
	if fv := grpcerr.FieldViolations(got); !slices.Equal(fv, want) {
		t.Errorf("violations = %v, want %v", fv, want)
	}
	// A wrapped error still yields its details (ports may wrap with %w).
	if fv := grpcerr.FieldViolations(fmt.Errorf("filing: %w", got)); len(fv) != 2 {
		t.Errorf("wrapped: %d violations, want 2", len(fv))
	}
}

func TestDetailedErrorsRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		code  codes.Code
		check func(t *testing.T, err error)
	}{
		{"invalid argument", grpcerr.InvalidArgument("customer.phone", "not a mainland mobile number"), codes.InvalidArgument, func(t *testing.T, err error) {
			if fv := grpcerr.FieldViolations(err); len(fv) != 1 || fv[0].Field != "customer.phone" {
				t.Errorf("violations = %v", fv)
			}
		}},
		{"failed precondition", grpcerr.FailedPrecondition("STATE", "complaint/c1", "complaint is closed"), codes.FailedPrecondition, func(t *testing.T, err error) {
			pf, ok := grpcerr.Detail[*errdetails.PreconditionFailure](err)
			if !ok || len(pf.GetViolations()) != 1 || pf.GetViolations()[0].GetType() != "STATE" || pf.GetViolations()[0].GetSubject() != "complaint/c1" {
				t.Errorf("precondition failure = %v", pf)
			}
		}},
		{"not found", grpcerr.NotFound("complaint", "c404"), codes.NotFound, func(t *testing.T, err error) {
			ri, ok := grpcerr.Detail[*errdetails.ResourceInfo](err)
			if !ok || ri.GetResourceType() != "complaint" || ri.GetResourceName() != "c404" {
				t.Errorf("resource info = %v", ri)
			}
			if msg := status.Convert(err).Message(); msg != `complaint "c404" not found` {
				t.Errorf("message = %q", msg)
			}
		}},
		{"permission denied", grpcerr.PermissionDenied("ABOVE_TIER_CAP", "refund 800 exceeds the tier 1 cap 200", "cap", "200", "tier"), codes.PermissionDenied, func(t *testing.T, err error) {
			info, ok := grpcerr.Detail[*errdetails.ErrorInfo](err)
			if !ok || info.GetReason() != "ABOVE_TIER_CAP" || info.GetDomain() != grpcerr.Domain || info.GetMetadata()["cap"] != "200" {
				t.Errorf("error info = %v", info)
			}
			if _, has := info.GetMetadata()["tier"]; !has {
				t.Error("a trailing metadata key was dropped")
			}
		}},
		{"aborted", grpcerr.Aborted("CONFLICT", "complaint changed concurrently; retry"), codes.Aborted, func(t *testing.T, err error) {
			if r := grpcerr.Reason(err); r != "CONFLICT" {
				t.Errorf("reason = %q", r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := roundTrip(t, tt.err)
			if c := status.Code(got); c != tt.code {
				t.Fatalf("code = %s, want %s", c, tt.code)
			}
			tt.check(t, got)
		})
	}
}

func TestDetailOfPlainErrors(t *testing.T) {
	for _, err := range []error{nil, errors.New("plain"), status.Error(codes.Internal, "no details")} {
		if fv := grpcerr.FieldViolations(err); fv != nil {
			t.Errorf("FieldViolations(%v) = %v", err, fv)
		}
		if r := grpcerr.Reason(err); r != "" {
			t.Errorf("Reason(%v) = %q", err, r)
		}
		if _, ok := grpcerr.Detail[*errdetails.ErrorInfo](err); ok {
			t.Errorf("Detail(%v) found a detail", err)
		}
	}
}
