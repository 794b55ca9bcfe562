package eventstore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/natstest"
)

func TestConfigRejectsBadValuesNamingTheField(t *testing.T) {
	cases := []struct {
		name  string
		cfg   eventstore.Config
		field string
	}{
		{"duplicate window below two minutes", eventstore.Config{DuplicateWindow: time.Minute}, "DuplicateWindow"},
		{"negative max bytes", eventstore.Config{MaxBytes: -1}, "MaxBytes"},
		{"too many replicas", eventstore.Config{Replicas: 7}, "Replicas"},
		{"negative replicas", eventstore.Config{Replicas: -1}, "Replicas"},
		{"negative inbound max bytes", eventstore.Config{InboundMaxBytes: -5}, "InboundMaxBytes"},
		{"alerts age shorter than the duplicate window", eventstore.Config{AlertsMaxAge: time.Minute}, "AlertsMaxAge"},
		{"negative dead letter age", eventstore.Config{DeadLetterMaxAge: -time.Hour}, "DeadLetterMaxAge"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := eventstore.ComplaintsStreamConfig(tc.cfg)
			if !errors.Is(err, eventstore.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.field+":") {
				t.Fatalf("config %+v: error %v, want ErrInvalidConfig naming %s", tc.cfg, err, tc.field)
			}
		})
	}
}

func TestEnsureStreamsFollowTheContract(t *testing.T) {
	srv := natstest.StartServer(t)
	js := srv.JetStream(t)
	ctx := testContext(t, 30*time.Second)
	cfg := eventstore.Config{MaxBytes: 64 << 20}
	if err := eventstore.EnsureAll(ctx, js, cfg); err != nil {
		t.Fatalf("ensure all: %v", err)
	}
	// Ensuring again is harmless: services call it at every start.
	if err := eventstore.EnsureAll(ctx, js, cfg); err != nil {
		t.Fatalf("ensure all again: %v", err)
	}

	info := streamConfig(t, js, eventstore.StreamComplaints)
	if got := info.Subjects; len(got) != 1 || got[0] != "complaints.*" {
		t.Fatalf("COMPLAINTS subjects %v", got)
	}
	if info.Storage != jetstream.FileStorage || !info.AllowDirect || !info.AllowAtomicPublish ||
		info.Discard != jetstream.DiscardNew || info.MaxBytes != 64<<20 || info.MaxAge != 0 ||
		info.Duplicates < 2*time.Minute || info.Replicas != 1 || info.Retention != jetstream.LimitsPolicy {
		t.Fatalf("COMPLAINTS config breaks DESIGN §2: %+v", info)
	}

	inbound := streamConfig(t, js, eventstore.StreamInbound)
	if inbound.Retention != jetstream.WorkQueuePolicy || inbound.Storage != jetstream.FileStorage || inbound.Subjects[0] != "inbound.complaints.>" {
		t.Fatalf("INBOUND config %+v", inbound)
	}
	alerts := streamConfig(t, js, eventstore.StreamAlerts)
	if alerts.MaxAge != eventstore.DefaultAlertsMaxAge || alerts.Subjects[0] != "alerts.>" {
		t.Fatalf("ALERTS config %+v", alerts)
	}
	dead := streamConfig(t, js, eventstore.StreamDeadLetter)
	if dead.MaxAge < 30*24*time.Hour || dead.Subjects[0] != "deadletter.>" {
		t.Fatalf("DEADLETTER config %+v", dead)
	}

	// A changed guard is applied to the existing stream.
	if _, err := eventstore.EnsureComplaints(ctx, js, eventstore.Config{MaxBytes: 128 << 20}); err != nil {
		t.Fatalf("update: %v", err)
	}
	if got := streamConfig(t, js, eventstore.StreamComplaints).MaxBytes; got != 128<<20 {
		t.Fatalf("MaxBytes after update %d", got)
	}
}

func TestEnsureMissingCreatesOnlyWhatIsMissing(t *testing.T) {
	srv := natstest.StartServer(t)
	js := srv.JetStream(t)
	ctx := testContext(t, 30*time.Second)
	// The stream-setup job made COMPLAINTS with its own size; a service that
	// starts later must not change it (its user may not), only add what is missing.
	if _, err := eventstore.EnsureComplaints(ctx, js, eventstore.Config{MaxBytes: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	if err := eventstore.EnsureMissing(ctx, js, eventstore.Config{MaxBytes: 32 << 20}); err != nil {
		t.Fatalf("ensure missing: %v", err)
	}
	if got := streamConfig(t, js, eventstore.StreamComplaints).MaxBytes; got != 64<<20 {
		t.Fatalf("COMPLAINTS MaxBytes changed to %d", got)
	}
	for _, name := range []string{eventstore.StreamInbound, eventstore.StreamAlerts, eventstore.StreamDeadLetter} {
		if _, err := js.Stream(ctx, name); err != nil {
			t.Fatalf("%s not created: %v", name, err)
		}
	}
}

func TestAppendToAFullStreamFailsWithErrStoreFull(t *testing.T) {
	srv := natstest.StartServer(t)
	nc := srv.Connect(t)
	js := srv.JetStream(t)
	ctx := testContext(t, 30*time.Second)
	if _, err := eventstore.EnsureComplaints(ctx, js, eventstore.Config{MaxBytes: 8 << 10}); err != nil {
		t.Fatalf("ensure: %v", err)
	}
	store, err := eventstore.New(nc, js, eventstore.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := newComplaintID()
	var last uint64
	for i := range 100 {
		ev := newEvent("ContactAdded")
		ev.Data = make([]byte, 1024)
		app, err := store.Append(ctx, id, last, ev)
		if errors.Is(err, eventstore.ErrStoreFull) {
			if i == 0 {
				t.Fatalf("the first small event was refused")
			}
			hist, lerr := store.Load(ctx, id)
			if lerr != nil || len(hist) != i {
				t.Fatalf("after %d stored events the history has %d (%v)", i, len(hist), lerr)
			}
			return
		}
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		last = app.Last()
	}
	t.Fatalf("100 KiB went into an 8 KiB stream without ErrStoreFull")
}

func TestSubjectHelpers(t *testing.T) {
	cases := []struct {
		name    string
		fn      func(string) (string, error)
		in      string
		want    string
		wantErr bool
	}{
		{"complaint", eventstore.ComplaintSubject, "0193b3c0-7d2e-7cc1-9f1e-2a3b4c5d6e7f", "complaints.0193b3c0-7d2e-7cc1-9f1e-2a3b4c5d6e7f", false},
		{"complaint with dot", eventstore.ComplaintSubject, "a.b", "", true},
		{"inbound source", eventstore.InboundSubject, "tmall", "inbound.complaints.tmall", false},
		{"inbound wildcard", eventstore.InboundSubject, ">", "", true},
		{"alert kind", eventstore.AlertSubject, "media", "alerts.media", false},
		{"alert empty", eventstore.AlertSubject, "", "", true},
		{"dead letter", eventstore.DeadLetterSubject, "routing-projection", "deadletter.routing-projection", false},
		{"dead letter space", eventstore.DeadLetterSubject, "a b", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.fn(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("%q -> %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
	if id, err := eventstore.ComplaintIDFromSubject("complaints.abc"); err != nil || id != "abc" {
		t.Fatalf("ComplaintIDFromSubject: %q, %v", id, err)
	}
	if _, err := eventstore.ComplaintIDFromSubject("alerts.abc"); !errors.Is(err, eventstore.ErrInvalidRecord) {
		t.Fatalf("ComplaintIDFromSubject on another stream: %v", err)
	}
}

func streamConfig(t *testing.T, js jetstream.JetStream, name string) jetstream.StreamConfig {
	t.Helper()
	ctx := testContext(t, 10*time.Second)
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	return s.CachedInfo().Config
}
