package adapters_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	reportingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/reporting/v1"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/grpcerr"
	"github.com/kesu315/kesu/services/kit/pgtest"
	"github.com/kesu315/kesu/services/kit/service"
	"github.com/kesu315/kesu/services/reporting/internal/adapters"
)

const hmacKey = "test-hmac-key-that-is-long-enough-for-hs256"

type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startService runs reporting in-process exactly as its binary does.
func startService(t *testing.T, natsURL, dbURL string) reportingv1.ReportingServiceClient {
	t.Helper()
	return startServiceWith(t, natsURL, dbURL, nil)
}

// startServiceWith is startService with more environment variables, e.g. a
// simulated clock.
func startServiceWith(t *testing.T, natsURL, dbURL string, extra map[string]string) reportingv1.ReportingServiceClient {
	t.Helper()
	env := map[string]string{
		"KESU_ENV": "dev", "KESU_GRPC_ADDR": "127.0.0.1:0", "KESU_HTTP_ADDR": "127.0.0.1:0",
		"NATS_URL": natsURL, "DATABASE_URL": dbURL, "KESU_POLICY": policyPath,
		"KESU_AUTH_HMAC_KEY": hmacKey, "KESU_PII_KEK": base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"KESU_LOG_LEVEL": "warn",
	}
	maps.Copy(env, extra)
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- service.Run(ctx, "reporting", service.Env{
			Args: []string{"serve"}, Getenv: func(k string) string { return env[k] }, Stdout: testLog{t}, Stderr: testLog{t},
		}, func(ctx context.Context, rt *service.Runtime) error {
			if err := adapters.Run(ctx, rt); err != nil {
				return err
			}
			addr <- rt.GRPCAddr().String()
			return nil
		}, service.WithMigrate(adapters.MigrateHook), service.WithPolicy(adapters.Policy()))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("reporting stopped with %v", err)
		}
	})
	var a string
	select {
	case a = <-addr:
	case err := <-done:
		t.Fatalf("reporting did not start: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("reporting did not start within a minute")
	}
	conn, err := grpc.NewClient(a, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return reportingv1.NewReportingServiceClient(conn)
}

func as(t *testing.T, id auth.Identity) context.Context {
	t.Helper()
	tok, err := auth.Mint([]byte(hmacKey), auth.ClaimsFor(id), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

// The binary's wiring: migrations, the projection worker and the API with
// its role allow-list, errors mapped to codes with field violations.
func TestServiceServesTheReport(t *testing.T) {
	e := newEnv(t)
	seedSeason(t, e)
	client := startService(t, e.natsURL, pgtest.URL(e.pool))
	bi := as(t, auth.Identity{Subject: "analyst", Role: auth.RoleBI})

	// The service's own projection catches up with the stream.
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := client.GetSeasonReport(bi, &reportingv1.GetSeasonReportRequest{Season: 2027, ShopId: "demo-flagship", Language: "en"})
		if err != nil {
			t.Fatal(err)
		}
		if res.GetReport().GetFields()["overview"].GetStructValue().GetFields()["total"].GetStructValue().GetFields()["complaints"].GetNumberValue() == 5 {
			if got := res.GetReport().GetFields()["title"].GetStringValue(); got != "315 season customer service and complaint report" {
				t.Errorf("title %q", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("report never reached 5 complaints: %v", res.GetReport().GetFields()["overview"])
		}
		time.Sleep(50 * time.Millisecond)
	}

	for _, f := range []reportingv1.ReportFormat{reportingv1.ReportFormat_REPORT_FORMAT_HTML, reportingv1.ReportFormat_REPORT_FORMAT_XLSX,
		reportingv1.ReportFormat_REPORT_FORMAT_CSV, reportingv1.ReportFormat_REPORT_FORMAT_JSON} {
		res, err := client.ExportSeasonReport(bi, &reportingv1.ExportSeasonReportRequest{Season: 2027, ShopId: "demo-flagship", Format: f})
		if err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		if len(res.GetContent()) == 0 || res.GetContentType() == "" || !strings.HasPrefix(res.GetFileName(), "315-report-demo-flagship-2027.zh-CN.") {
			t.Errorf("%v: %s %s %d bytes", f, res.GetContentType(), res.GetFileName(), len(res.GetContent()))
		}
		if f == reportingv1.ReportFormat_REPORT_FORMAT_XLSX && !bytes.HasPrefix(res.GetContent(), []byte("PK")) {
			t.Error("XLSX is not a zip")
		}
	}

	cases := []struct {
		name   string
		ctx    context.Context
		req    *reportingv1.GetSeasonReportRequest
		code   codes.Code
		fields string
	}{
		{"bad fields", bi, &reportingv1.GetSeasonReportRequest{Season: 27, Language: "fr"}, codes.InvalidArgument, "[shop_id season language]"},
		{"unknown shop", bi, &reportingv1.GetSeasonReportRequest{Season: 2027, ShopId: "nope"}, codes.NotFound, ""},
		{"no such season", bi, &reportingv1.GetSeasonReportRequest{Season: 2031, ShopId: "demo-flagship"}, codes.NotFound, ""},
		{"agents do not read reports", as(t, auth.Identity{Subject: "a1", Role: auth.RoleAgent, Tier: 1}), &reportingv1.GetSeasonReportRequest{Season: 2027, ShopId: "demo-flagship"}, codes.PermissionDenied, ""},
		{"other shop", as(t, auth.Identity{Subject: "s1", Role: auth.RoleSupervisor, Shops: []string{"demo-outlet"}}), &reportingv1.GetSeasonReportRequest{Season: 2027, ShopId: "demo-flagship"}, codes.PermissionDenied, ""},
		{"no token", context.Background(), &reportingv1.GetSeasonReportRequest{Season: 2027, ShopId: "demo-flagship"}, codes.Unauthenticated, ""},
	}
	for _, tc := range cases {
		_, err := client.GetSeasonReport(tc.ctx, tc.req)
		if status.Code(err) != tc.code {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.code)
			continue
		}
		if tc.fields != "" {
			var fields []string
			for _, v := range grpcerr.FieldViolations(err) {
				fields = append(fields, v.Field)
			}
			if fmt.Sprint(fields) != tc.fields {
				t.Errorf("%s: violations %v, want %s", tc.name, fields, tc.fields)
			}
		}
	}
	if _, err := client.ExportSeasonReport(bi, &reportingv1.ExportSeasonReportRequest{Season: 2027, ShopId: "demo-flagship"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("export without a format: %v", err)
	}
}
