package eventstore_test

import (
	"testing"
	"time"

	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/natstest"
)

// TestAppendSurvivesLosingTheStreamLeader stops the R3 stream leader between
// appends: Append keeps retrying (no responders, timeouts, not-ready) with
// the same event ids until the survivors elect a leader, and every event is
// stored exactly once, in order.
func TestAppendSurvivesLosingTheStreamLeader(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	nc := c.Connect(t)
	e := newEnv(t, "cluster3", 3, nc)
	ctx := testContext(t, 90*time.Second)
	store, err := eventstore.New(nc, e.js, eventstore.StoreOptions{AttemptTimeout: 2 * time.Second, MaxRetries: 200})
	if err != nil {
		t.Fatal(err)
	}
	id := newComplaintID()
	var want []string
	var last uint64
	appendOne := func() {
		t.Helper()
		ev := newEvent("ContactAdded")
		app, err := store.Append(ctx, id, last, ev)
		if err != nil {
			t.Fatalf("append %d: %v", len(want), err)
		}
		last = app.Last()
		want = append(want, ev.ID)
	}
	for range 10 {
		appendOne()
	}
	c.StopServer(t, c.WaitStreamLeader(t, eventstore.StreamComplaints))
	for range 10 {
		appendOne()
	}
	hist := loadAtLeast(t, ctx, &env{store: store}, id, len(want))
	assertHistory(t, hist, want)
}
