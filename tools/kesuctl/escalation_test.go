package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/kesu315/kesu/proto/gen/go/kesu/alerts/v1"
)

func TestPrintAlert(t *testing.T) {
	a := &alertsv1.Alert{Kind: alertsv1.AlertKind_ALERT_KIND_BREACHED, ShopId: "demo-flagship", ComplaintId: "c1",
		SummaryZh: "首次响应 已超时", SummaryEn: "first_response deadline breached", RaisedAt: timestamppb.New(time.Unix(0, 0))}
	var zh, en bytes.Buffer
	printAlert(&zh, a, "zh-CN")
	printAlert(&en, a, "en")
	if !strings.Contains(zh.String(), "breached") || !strings.Contains(zh.String(), "首次响应 已超时") || !strings.Contains(en.String(), "deadline breached") {
		t.Fatalf("zh %q en %q", zh.String(), en.String())
	}
}

func TestEscalateUsageErrors(t *testing.T) {
	t.Setenv("KESU_AUTH_HMAC_KEY", "test-hmac-key-that-is-long-enough-for-hs256")
	ctx := context.Background()
	if err := run(ctx, []string{"escalate"}); err == nil || !strings.Contains(err.Error(), "kesuctl escalate up") {
		t.Fatalf("no subcommand: %v", err)
	}
	if err := run(ctx, []string{"escalate", "up", "--reason", "x"}); err == nil || !strings.Contains(err.Error(), "COMPLAINT_ID") {
		t.Fatalf("no id: %v", err)
	}
	if err := run(ctx, []string{"alerts", "--kind", "nope"}); err == nil || !strings.Contains(err.Error(), "unknown alert kind") {
		t.Fatalf("bad kind: %v", err)
	}
	if err := run(ctx, []string{"escalate", "fly"}); err == nil || !strings.Contains(err.Error(), "unknown subcommand") {
		t.Fatalf("bad subcommand: %v", err)
	}
}
