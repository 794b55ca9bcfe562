package alerts_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	alertsv1 "github.com/kesu315/kesu/proto/gen/go/kesu/alerts/v1"
	"github.com/kesu315/kesu/services/kit/alerts"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/natstest"
)

func TestSubjectsRoundTrip(t *testing.T) {
	for v := range alertsv1.AlertKind_name {
		kind := alertsv1.AlertKind(v)
		if kind == alertsv1.AlertKind_ALERT_KIND_UNSPECIFIED {
			continue
		}
		got, ok := alerts.KindOf(alerts.Subject(kind))
		if !ok || got != kind {
			t.Errorf("KindOf(Subject(%v)) = %v, %v", kind, got, ok)
		}
	}
	if got := alerts.Subject(alertsv1.AlertKind_ALERT_KIND_AT_RISK); got != "alerts.at_risk" {
		t.Errorf("Subject(AT_RISK) = %q", got)
	}
	for _, s := range []string{"alerts.", "alerts.nope", "complaints.x", "alerts.unspecified"} {
		if k, ok := alerts.KindOf(s); ok {
			t.Errorf("KindOf(%q) = %v, want not ok", s, k)
		}
	}
}

func TestIDIsDeterministicPerCause(t *testing.T) {
	a := alerts.ID(alertsv1.AlertKind_ALERT_KIND_BREACHED, "d1")
	if a != alerts.ID(alertsv1.AlertKind_ALERT_KIND_BREACHED, "d1") {
		t.Fatal("same cause gave two ids")
	}
	if a == alerts.ID(alertsv1.AlertKind_ALERT_KIND_AT_RISK, "d1") || a == alerts.ID(alertsv1.AlertKind_ALERT_KIND_BREACHED, "d2") {
		t.Fatal("different causes share an id")
	}
	// The separator keeps ("ab","c") and ("a","bc") apart.
	if alerts.ID(alertsv1.AlertKind_ALERT_KIND_SPIKE, "ab", "c") == alerts.ID(alertsv1.AlertKind_ALERT_KIND_SPIKE, "a", "bc") {
		t.Fatal("cause parts run together")
	}
}

func TestPublishStoresOnceAndRejectsIncomplete(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js := natstest.StartServer(t).JetStream(t)
	stream, err := eventstore.EnsureAlerts(ctx, js, eventstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	a := &alertsv1.Alert{
		AlertId:     alerts.ID(alertsv1.AlertKind_ALERT_KIND_MAJOR_ARRIVED, "c1"),
		Kind:        alertsv1.AlertKind_ALERT_KIND_MAJOR_ARRIVED,
		ShopId:      "s1",
		ComplaintId: "c1",
		SummaryZh:   "重大投诉",
	}
	for range 2 {
		if err := alerts.Publish(ctx, js, a); err != nil {
			t.Fatal(err)
		}
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stored %d alerts, want 1 (the repeat must be dropped)", info.State.Msgs)
	}
	msg, err := stream.GetLastMsgForSubject(ctx, "alerts.major_arrived")
	if err != nil {
		t.Fatal(err)
	}
	got, err := alerts.Decode(msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, a) {
		t.Fatalf("read back %v, want %v", got, a)
	}
	if err := alerts.Publish(ctx, js, &alertsv1.Alert{Kind: alertsv1.AlertKind_ALERT_KIND_SPIKE}); err == nil {
		t.Error("alert without id was published")
	}
	if err := alerts.Publish(ctx, js, &alertsv1.Alert{AlertId: "x"}); err == nil {
		t.Error("alert without kind was published")
	}
}

func TestPublishAsyncStoresOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js := natstest.StartServer(t).JetStream(t)
	stream, err := eventstore.EnsureAlerts(ctx, js, eventstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	a := &alertsv1.Alert{AlertId: alerts.ID(alertsv1.AlertKind_ALERT_KIND_BREACHED, "d1", "1"), Kind: alertsv1.AlertKind_ALERT_KIND_BREACHED}
	for range 3 {
		f, err := alerts.PublishAsync(js, a)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-f.Ok():
		case err := <-f.Err():
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stored %d alerts, want 1", info.State.Msgs)
	}
	if _, err := alerts.PublishAsync(js, &alertsv1.Alert{Kind: alertsv1.AlertKind_ALERT_KIND_SPIKE}); err == nil {
		t.Error("alert without id was published")
	}
}
