package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/natstest"
)

func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// streamConfigs reads back what the server holds for every Kesu stream.
func streamConfigs(t *testing.T, ctx context.Context, js jetstream.JetStream) map[string]jetstream.StreamConfig {
	t.Helper()
	out := map[string]jetstream.StreamConfig{}
	for _, name := range streamNames {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s after `kesuctl streams`: %v", name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatalf("stream %s info: %v", name, err)
		}
		out[name] = info.Config
	}
	return out
}

// The stream-setup job on a single node: every stream exists with the
// settings given by flags, COMPLAINTS as DESIGN §2 defines it, and a second
// run (the next `helm upgrade`) succeeds and changes nothing.
func TestStreamsCreatesEveryStreamAndIsRepeatable(t *testing.T) {
	ctx := testContext(t, 2*time.Minute)
	ns := natstest.StartServer(t)
	args := []string{"streams", "--nats-url", ns.URL, "--replicas", "1", "--max-bytes", "64MiB", "--wait", "30s"}

	if err := run(ctx, args); err != nil {
		t.Fatalf("kesuctl streams: %v", err)
	}
	js := ns.JetStream(t)
	first := streamConfigs(t, ctx, js)
	c := first[eventstore.StreamComplaints]
	if c.MaxBytes != 64<<20 || c.Replicas != 1 || c.Storage != jetstream.FileStorage ||
		c.Discard != jetstream.DiscardNew || !c.AllowDirect || !c.AllowAtomicPublish || c.Duplicates < 2*time.Minute {
		t.Errorf("COMPLAINTS = %+v; want file storage, R1, 64MiB discard-new guard, direct get, atomic publish, dup window >= 2m", c)
	}
	if in := first[eventstore.StreamInbound]; in.Retention != jetstream.WorkQueuePolicy {
		t.Errorf("INBOUND retention = %v, want work queue", in.Retention)
	}
	if al := first[eventstore.StreamAlerts]; al.MaxAge <= 0 {
		t.Errorf("ALERTS max age = %s, want a limited age", al.MaxAge)
	}

	if err := run(ctx, args); err != nil {
		t.Fatalf("second kesuctl streams (upgrade): %v", err)
	}
	second := streamConfigs(t, ctx, js)
	for name, before := range first {
		after := second[name]
		if after.MaxBytes != before.MaxBytes || after.Replicas != before.Replicas || after.MaxAge != before.MaxAge {
			t.Errorf("%s changed on a repeated run: %+v -> %+v", name, before, after)
		}
	}
}

// The job in Kubernetes is configured by environment only (as the chart
// renders it): NATS_URL, KESU_STREAM_REPLICAS, KESU_STREAM_MAX_BYTES; and
// against a three-node cluster every stream is R3.
func TestStreamsReadsEnvironmentAndMakesR3OnACluster(t *testing.T) {
	ctx := testContext(t, 3*time.Minute)
	cl := natstest.StartCluster(t, 3)
	t.Setenv("NATS_URL", cl.URLs)
	t.Setenv("NATS_CREDS", "")
	t.Setenv("KESU_STREAM_REPLICAS", "3")
	t.Setenv("KESU_STREAM_MAX_BYTES", "1GiB")

	if err := run(ctx, []string{"streams", "--wait", "90s"}); err != nil {
		t.Fatalf("kesuctl streams on a 3-node cluster: %v", err)
	}
	for name, c := range streamConfigs(t, ctx, cl.JetStream(t)) {
		if c.Replicas != 3 {
			t.Errorf("%s replicas = %d, want 3", name, c.Replicas)
		}
	}
}

// Bad settings fail before anything is contacted, naming the flag, its
// environment variable and the reason.
func TestStreamsRejectsBadSettings(t *testing.T) {
	ctx := testContext(t, 30*time.Second)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"replicas zero", []string{"--replicas", "0"}, nil, []string{"--replicas", "KESU_STREAM_REPLICAS", `"0"`, "1 to 5"}},
		{"replicas too many", []string{"--replicas", "7"}, nil, []string{"--replicas", `"7"`, "1 to 5"}},
		{"replicas from env", nil, map[string]string{"KESU_STREAM_REPLICAS": "three"}, []string{"KESU_STREAM_REPLICAS", `"three"`}},
		{"size unit", []string{"--max-bytes", "10XB"}, nil, []string{"--max-bytes", "KESU_STREAM_MAX_BYTES", `"10XB"`, "positive size"}},
		{"size negative", []string{"--max-bytes", "-1"}, nil, []string{"--max-bytes", `"-1"`}},
		{"wait", []string{"--wait", "0s"}, nil, []string{"--wait", "positive"}},
		{"missing creds file", []string{"--creds", "/nonexistent/kesu.creds"}, nil, []string{"--creds", "NATS_CREDS", "/nonexistent/kesu.creds"}},
		{"stray argument", []string{"COMPLAINTS"}, nil, []string{"no arguments"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KESU_STREAM_REPLICAS", "")
			t.Setenv("KESU_STREAM_MAX_BYTES", "")
			t.Setenv("NATS_CREDS", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			// Port 1 on loopback: nothing listens, so an error from
			// anything but validation would be a connection failure.
			args := append([]string{"streams", "--nats-url", "nats://127.0.0.1:1", "--wait", "1s"}, tt.args...)
			err := run(ctx, args)
			if err == nil {
				t.Fatalf("kesuctl %v: no error", args)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// Asking a single server for R3 is a mistake no retry fixes: the job fails
// at once with the server's reason and the stream's name instead of
// retrying until --wait runs out.
func TestStreamsFailsFastOnReplicasTheServerCannotHold(t *testing.T) {
	ctx := testContext(t, time.Minute)
	ns := natstest.StartServer(t)
	err := run(ctx, []string{"streams", "--nats-url", ns.URL, "--replicas", "3", "--wait", "10m"})
	if err == nil {
		t.Fatal("R3 streams on a single server: no error")
	}
	for _, w := range []string{"COMPLAINTS", "replicas"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if ctx.Err() != nil {
		t.Errorf("the job retried until the test deadline instead of failing: %v", err)
	}
}

// With nothing listening the job keeps trying for --wait, then reports the
// URL and the last failure.
func TestStreamsGivesUpAfterWaitWhenNATSIsUnreachable(t *testing.T) {
	ctx := testContext(t, time.Minute)
	err := run(ctx, []string{"streams", "--nats-url", "nats://127.0.0.1:1", "--wait", "2s"})
	if err == nil {
		t.Fatal("no error with NATS unreachable")
	}
	for _, w := range []string{"nats://127.0.0.1:1", "--wait 2s"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}
