package eventstore_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kesu315/kesu/services/kit/eventstore"
)

// Identical decisions racing (the same command retried while the first is
// in flight, event ids derived from the command) store the events once and
// exactly one reports them as new; Decide's answer is unchanged.
func TestDecideResultReportsDuplicates(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e := b.start(t)
			ctx := testContext(t, 30*time.Second)
			id := newComplaintID()
			if _, err := e.store.Append(ctx, id, 0, newEvent("ComplaintFiled")); err != nil {
				t.Fatal(err)
			}
			ev := newEvent("ContactAdded")
			decide := func(history []eventstore.Record) ([]eventstore.Event, error) {
				if slices.ContainsFunc(history, func(r eventstore.Record) bool { return r.ID == ev.ID }) {
					return nil, nil
				}
				return []eventstore.Event{ev}, nil
			}
			const n = 6
			results := make([]eventstore.Decided, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i], errs[i] = eventstore.DecideResult(ctx, e.store, id, decide, eventstore.DecideOptions{MaxAttempts: 100, MaxBackoff: 20 * time.Millisecond})
				}()
			}
			wg.Wait()
			fresh := 0
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("decision %d: %v", i, errs[i])
				}
				if len(results[i].Records) > 0 && !results[i].Duplicate {
					fresh++
				}
			}
			if fresh != 1 {
				t.Fatalf("%d decisions report a fresh append, want 1: %+v", fresh, results)
			}
			hist := loadAtLeast(t, ctx, e, id, 2)
			if len(hist) != 2 || hist[1].ID != ev.ID {
				t.Fatalf("history %v, want the filing and the one contact", hist)
			}
		})
	}
}
