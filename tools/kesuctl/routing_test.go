package main

import (
	"context"
	"flag"
	"strings"
	"testing"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
)

func TestWorkNeedsSubcommandAndID(t *testing.T) {
	role, tier, sub := "agent", 1, "t"
	err := routingCmd(context.Background(), flag.NewFlagSet("work", flag.ContinueOnError), nil, &role, &tier, &sub)
	if err == nil || !strings.Contains(err.Error(), "usage: kesuctl work") {
		t.Errorf("no subcommand: %v", err)
	}
	t.Setenv("KESU_AUTH_HMAC_KEY", "test-hmac-key-that-is-long-enough-for-hs256")
	err = routingCmd(context.Background(), flag.NewFlagSet("work", flag.ContinueOnError), []string{"claim"}, &role, &tier, &sub)
	if err == nil || !strings.Contains(err.Error(), "needs a COMPLAINT_ID") {
		t.Errorf("claim without id: %v", err)
	}
}

func TestEnumValue(t *testing.T) {
	if v, err := enumValue(complaintv1.RemedyKind_value, "REMEDY_KIND_", "refund"); err != nil || v != int32(complaintv1.RemedyKind_REMEDY_KIND_REFUND) {
		t.Errorf("refund: %v %v", v, err)
	}
	if _, err := enumValue(complaintv1.RemedyKind_value, "REMEDY_KIND_", "cash"); err == nil {
		t.Error("cash accepted")
	}
}
