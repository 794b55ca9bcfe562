package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	reportingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/reporting/v1"
)

// fakeReporting answers ExportSeasonReport with the request echoed, so the
// test sees what the command sent and that it writes what came back.
type fakeReporting struct {
	reportingv1.UnimplementedReportingServiceServer
	got  *reportingv1.ExportSeasonReportRequest
	auth string
}

func (f *fakeReporting) ExportSeasonReport(ctx context.Context, req *reportingv1.ExportSeasonReportRequest) (*reportingv1.ExportSeasonReportResponse, error) {
	f.got = req
	md, _ := metadata.FromIncomingContext(ctx)
	f.auth = strings.Join(md.Get("authorization"), "")
	return &reportingv1.ExportSeasonReportResponse{ContentType: "text/html", FileName: "315-report.html", Content: []byte("<!DOCTYPE html>report")}, nil
}

func TestReportWritesTheFileTheServerRendered(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	fake := &fakeReporting{}
	reportingv1.RegisterReportingServiceServer(srv, fake)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	t.Setenv("KESU_AUTH_HMAC_KEY", "test-hmac-key-that-is-long-enough-for-hs256")
	t.Setenv("KESU_REPORTING_ADDR", lis.Addr().String())

	out := filepath.Join(t.TempDir(), "reports", "r.html")
	if err := run(context.Background(), []string{"report", "--season", "2027", "--shop", "demo-flagship", "--format", "html", "--lang", "en", "-o", out}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil || string(b) != "<!DOCTYPE html>report" {
		t.Fatalf("file %q, %v", b, err)
	}
	if fake.got.GetSeason() != 2027 || fake.got.GetShopId() != "demo-flagship" || fake.got.GetLanguage() != "en" ||
		fake.got.GetFormat() != reportingv1.ReportFormat_REPORT_FORMAT_HTML || !strings.HasPrefix(fake.auth, "Bearer ") {
		t.Fatalf("request %v, auth %q", fake.got, fake.auth)
	}
}

func TestReportRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"report", "--format", "html"},
		{"report", "--season", "2027", "--format", "pdf"},
		{"report", "--season", "2027", "extra"},
	} {
		if err := run(context.Background(), args); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
