package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
)

func TestPrintSweep(t *testing.T) {
	sw := &followupv1.SweepResponse{ShopId: "demo-flagship", Season: 2027, Total: 2, SecondsToEnd: 2 * 86400, EndNear: true,
		AftermathEnd: timestamppb.New(time.Date(2027, 4, 11, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))),
		Groups: []*followupv1.SweepGroup{
			{Owner: "agent-1", Level: complaintv1.EscalationLevel_ESCALATION_LEVEL_SUPERVISOR, OldestAgeSeconds: 3*86400 + 7200,
				Items: []*followupv1.SweepItem{{ComplaintId: "c-1", Stage: "open", Severity: complaintv1.Severity_SEVERITY_MAJOR, Category: "quality", AgeSeconds: 3*86400 + 7200}}},
			{Items: []*followupv1.SweepItem{{ComplaintId: "c-2", Stage: "follow_up_pending", AgeSeconds: 3600}}},
		}}
	for _, tc := range []struct {
		lang string
		want []string
	}{
		{"zh-CN", []string{"善后清零 demo-flagship 2027 季：2 件未结案", "2027-04-11 00:00", "即将截止", "[主管] agent-1", "3天2小时", "（无人负责）", "待回访"}},
		{"en", []string{"season 2027: 2 not closed", "[supervisor] agent-1", "3d2h", "(nobody)", "follow-up pending", "major"}},
	} {
		var b strings.Builder
		if err := printSweep(&b, sw, tc.lang); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: missing %q in\n%s", tc.lang, w, b.String())
			}
		}
	}
}

func TestFollowupCommandErrors(t *testing.T) {
	t.Setenv("KESU_AUTH_HMAC_KEY", "test-key-test-key-test-key-test-key")
	for _, args := range [][]string{
		{"sweep", "--shop", "demo-flagship"},
		{"followup"},
		{"followup", "nope"},
		{"followup", "get"},
		{"followup", "attempt", "--outcome", "maybe", "c-1"},
	} {
		if err := run(context.Background(), append(args, "--followup-addr", "127.0.0.1:1")); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
