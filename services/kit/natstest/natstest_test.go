package natstest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kesu315/kesu/services/kit/natstest"
)

func TestStartServerStoresAndServesJetStream(t *testing.T) {
	srv := natstest.StartServer(t)
	js := srv.JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	ack, err := js.Publish(ctx, "t.1", []byte("hello"))
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if ack.Sequence != 1 {
		t.Fatalf("first message stored at seq %d, want 1", ack.Sequence)
	}
	if !srv.Srv.JetStreamConfig().SyncAlways {
		t.Fatalf("single test server must sync always like a single-node install")
	}
}

func TestStartClusterReplicatesAndSurvivesLosingANode(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	js := c.JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage, Replicas: 3}); err != nil {
		t.Fatalf("create R3 stream: %v", err)
	}
	if _, err := js.Publish(ctx, "t.1", []byte("one")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	leader := c.WaitStreamLeader(t, "T")
	c.StopServer(t, leader)

	// A replicated stream keeps accepting writes once the survivors elect a new leader.
	var errs []string
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.Publish(pctx, "t.2", []byte("two"))
		pcancel()
		if err == nil {
			break
		}
		if len(errs) < 20 {
			errs = append(errs, time.Now().Format("15:04:05.000")+" "+err.Error())
		}
		if ctx.Err() != nil {
			t.Fatalf("publish after losing the stream leader: %v\n%s", err, strings.Join(errs, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	st, err := js.Stream(ctx, "T")
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	if got := st.CachedInfo().State.Msgs; got != 2 {
		t.Fatalf("stream holds %d messages, want 2", got)
	}
}

func TestStartClusterRejectsTooFewNodes(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { recover() }()
		natstest.StartCluster(ft, 1)
	}()
	if !ft.failed {
		t.Fatalf("StartCluster(1) did not fail the test")
	}
}

// fatalRecorder turns Fatalf into a panic the test recovers, to check that the
// harness refuses bad input without failing the real test.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.failed = true
	panic("fatal")
}
