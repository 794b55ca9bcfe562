package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/natstest"
)

// env is one backend the behaviours run against: a single node (R1, as dev
// runs) or a three-node cluster (R3, as production runs). They answer
// conflicts and duplicates differently, so every behaviour runs on both.
type env struct {
	name     string
	replicas int
	nc       *nats.Conn
	js       jetstream.JetStream
	store    *eventstore.Store
}

type backend struct {
	name  string
	start func(t *testing.T) *env
}

func backends() []backend {
	return []backend{
		{"single", func(t *testing.T) *env {
			srv := natstest.StartServer(t)
			return newEnv(t, "single", 1, srv.Connect(t))
		}},
		{"cluster3", func(t *testing.T) *env {
			c := natstest.StartCluster(t, 3)
			e := newEnv(t, "cluster3", 3, c.Connect(t))
			c.WaitStreamLeader(t, eventstore.StreamComplaints)
			return e
		}},
	}
}

func newEnv(t *testing.T, name string, replicas int, nc *nats.Conn) *env {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	ctx := testContext(t, 30*time.Second)
	if err := eventstore.EnsureAll(ctx, js, eventstore.Config{Replicas: replicas, MaxBytes: 1 << 30}); err != nil {
		t.Fatalf("ensure streams: %v", err)
	}
	store, err := eventstore.New(nc, js, eventstore.StoreOptions{})
	if err != nil {
		t.Fatalf("new store: %v", err)
	}
	return &env{name: name, replicas: replicas, nc: nc, js: js, store: store}
}

// TestStore runs every store behaviour against a single node and a
// three-node cluster; one server or cluster per backend is shared by the
// subtests, each working on its own complaints.
func TestStore(t *testing.T) {
	behaviours := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"ConcurrentWritersOneWinnerPerExpectation", testConcurrentWriters},
		{"IdenticalRetryIsNotStoredTwice", testIdenticalRetry},
		{"StaleAtomicBatchStoresNothing", testStaleBatch},
		{"BatchIsStoredWholeAndInOrder", testBatchStoredWhole},
		{"LoadUnknownComplaintIsEmpty", testLoadUnknown},
		{"LoadTenThousandEventsWholeInOrder", testLoadTenThousand},
		{"LoadPagesSmallBatches", testLoadPaging},
		{"RecordsCarryContractHeaders", testRecordHeaders},
		{"DecideConvergesUnderContention", testDecideConverges},
		{"DecideWithNoEventsAppendsNothing", testDecideNoEvents},
		{"DecidePassesDomainErrorsThrough", testDecideError},
		{"RejectsBadInputWithoutWriting", testBadInput},
		{"ServerAnswersAsTheStoreAssumes", testServerAnswers},
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e := b.start(t)
			for _, bh := range behaviours {
				t.Run(bh.name, func(t *testing.T) { bh.run(t, e) })
			}
		})
	}
}

func testConcurrentWriters(t *testing.T, e *env) {
	ctx := testContext(t, 60*time.Second)
	id := newComplaintID()
	first := newEvent("ComplaintFiled")
	app, err := e.store.Append(ctx, id, 0, first)
	if err != nil {
		t.Fatalf("first append: %v", err)
	}
	want := []string{first.ID}
	last := app.Last()

	const writers, rounds = 8, 4
	for round := range rounds {
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			winners   []eventstore.Appended
			winnerIDs []string
			conflicts int
			others    []error
		)
		start := make(chan struct{})
		for range writers {
			ev := newEvent("ContactAdded")
			wg.Go(func() {
				<-start
				got, err := e.store.Append(ctx, id, last, ev)
				mu.Lock()
				defer mu.Unlock()
				var ce *eventstore.ConflictError
				switch {
				case err == nil:
					winners = append(winners, got)
					winnerIDs = append(winnerIDs, ev.ID)
				case errors.Is(err, eventstore.ErrConflict) && errors.As(err, &ce):
					conflicts++
					if ce.ComplaintID != id || ce.Expected != last {
						others = append(others, fmt.Errorf("conflict details %+v, want complaint %s expected %d", ce, id, last))
					}
				default:
					others = append(others, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(others) > 0 {
			t.Fatalf("round %d: unexpected errors: %v", round, others)
		}
		if len(winners) != 1 || conflicts != writers-1 {
			t.Fatalf("round %d: %d writers won and %d conflicted, want exactly 1 and %d", round, len(winners), conflicts, writers-1)
		}
		if winners[0].Duplicate || winners[0].Last() <= last {
			t.Fatalf("round %d: winner %+v, want a new sequence above %d", round, winners[0], last)
		}
		last = winners[0].Last()
		want = append(want, winnerIDs[0])
	}

	hist := loadAtLeast(t, ctx, e, id, len(want))
	assertHistory(t, hist, want)
	if hist[len(hist)-1].StreamSeq != last {
		t.Fatalf("history ends at sequence %d, last winner got %d", hist[len(hist)-1].StreamSeq, last)
	}
}

func testIdenticalRetry(t *testing.T, e *env) {
	cases := []struct {
		name   string
		events int
	}{
		{"single event", 1},
		{"atomic batch", 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t, 30*time.Second)
			id := newComplaintID()
			evs := newEvents(tc.events, "ComplaintFiled")
			first, err := e.store.Append(ctx, id, 0, evs...)
			if err != nil {
				t.Fatalf("append: %v", err)
			}
			if first.Duplicate || len(first.Seqs) != tc.events {
				t.Fatalf("first append %+v, want %d new sequences", first, tc.events)
			}

			// The same append again, as a client retries after a lost
			// acknowledgement: reported as success, stored once.
			again, err := e.store.Append(ctx, id, 0, evs...)
			if err != nil {
				t.Fatalf("identical retry reported as failure: %v", err)
			}
			if !again.Duplicate || !slices.Equal(again.Seqs, first.Seqs) {
				t.Fatalf("retry %+v, want Duplicate with the first sequences %v", again, first.Seqs)
			}

			// Still recognised after someone else appended behind it.
			other := newEvent("ContactAdded")
			if _, err := e.store.Append(ctx, id, first.Last(), other); err != nil {
				t.Fatalf("append after: %v", err)
			}
			late, err := e.store.Append(ctx, id, 0, evs...)
			if err != nil {
				t.Fatalf("late identical retry: %v", err)
			}
			if !late.Duplicate || !slices.Equal(late.Seqs, first.Seqs) {
				t.Fatalf("late retry %+v, want Duplicate with %v", late, first.Seqs)
			}

			hist := loadAtLeast(t, ctx, e, id, tc.events+1)
			assertHistory(t, hist, append(eventIDs(evs), other.ID))
		})
	}
}

func testStaleBatch(t *testing.T, e *env) {
	ctx := testContext(t, 30*time.Second)
	id := newComplaintID()
	filed := newEvent("ComplaintFiled")
	a1, err := e.store.Append(ctx, id, 0, filed)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	routed := newEvent("ComplaintRouted")
	a2, err := e.store.Append(ctx, id, a1.Last(), routed)
	if err != nil {
		t.Fatalf("append: %v", err)
	}

	cases := []struct {
		name     string
		expected uint64
	}{
		{"expectation one behind", a1.Last()},
		{"expectation of a new complaint", 0},
		{"expectation ahead of the stream", a2.Last() + 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			batch := newEvents(4, "RemedyProposed")
			_, err := e.store.Append(ctx, id, tc.expected, batch...)
			var ce *eventstore.ConflictError
			if !errors.Is(err, eventstore.ErrConflict) || !errors.As(err, &ce) || ce.Expected != tc.expected {
				t.Fatalf("stale batch: err %v, want ConflictError expecting %d", err, tc.expected)
			}
		})
	}
	// None of the batches' events may appear: all or nothing.
	hist := loadAtLeast(t, ctx, e, id, 2)
	assertHistory(t, hist, []string{filed.ID, routed.ID})
}

func testBatchStoredWhole(t *testing.T, e *env) {
	ctx := testContext(t, 30*time.Second)
	id := newComplaintID()
	evs := newEvents(5, "ContactAdded")
	app, err := e.store.Append(ctx, id, 0, evs...)
	if err != nil {
		t.Fatalf("append batch: %v", err)
	}
	hist := loadAtLeast(t, ctx, e, id, len(evs))
	assertHistory(t, hist, eventIDs(evs))
	for i, r := range hist {
		if r.StreamSeq != app.Seqs[i] {
			t.Fatalf("event %d stored at %d, Append reported %d", i, r.StreamSeq, app.Seqs[i])
		}
	}
}

func testLoadUnknown(t *testing.T, e *env) {
	ctx := testContext(t, 10*time.Second)
	hist, err := e.store.Load(ctx, newComplaintID())
	if err != nil {
		t.Fatalf("load unknown: %v", err)
	}
	if hist == nil || len(hist) != 0 {
		t.Fatalf("load unknown: %v, want an empty, non-nil slice", hist)
	}
}

func testLoadTenThousand(t *testing.T, e *env) {
	ctx := testContext(t, 120*time.Second)
	id, neighbour := newComplaintID(), newComplaintID()
	const total = 10_000
	var want []string
	var last, nlast uint64
	for len(want) < total {
		n := min(eventstore.MaxEventsPerAppend, total-len(want))
		evs := newEvents(n, "ContactAdded")
		app, err := e.store.Append(ctx, id, last, evs...)
		if err != nil {
			t.Fatalf("append %d events after %d: %v", n, len(want), err)
		}
		last = app.Last()
		want = append(want, eventIDs(evs)...)
		// Interleave another complaint so the load must filter by subject.
		napp, err := e.store.Append(ctx, neighbour, nlast, newEvent("ContactAdded"))
		if err != nil {
			t.Fatalf("append neighbour: %v", err)
		}
		nlast = napp.Last()
	}
	hist := loadAtLeast(t, ctx, e, id, total)
	assertHistory(t, hist, want)
}

func testLoadPaging(t *testing.T, e *env) {
	ctx := testContext(t, 30*time.Second)
	small, err := eventstore.New(e.nc, e.js, eventstore.StoreOptions{LoadBatch: 7})
	if err != nil {
		t.Fatalf("new store: %v", err)
	}
	id := newComplaintID()
	var want []string
	var last uint64
	for range 5 {
		evs := newEvents(10, "ContactAdded")
		app, err := small.Append(ctx, id, last, evs...)
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		last = app.Last()
		want = append(want, eventIDs(evs)...)
	}
	hist := loadAtLeast(t, ctx, &env{store: small}, id, len(want))
	assertHistory(t, hist, want)

	after, err := small.LoadAfter(ctx, id, hist[41].StreamSeq)
	if err != nil {
		t.Fatalf("load after: %v", err)
	}
	if len(after) != 8 || after[0].ID != want[42] {
		t.Fatalf("load after the 42nd event: %d events starting %v, want 8 starting %s", len(after), after[0].ID, want[42])
	}
}

func testRecordHeaders(t *testing.T, e *env) {
	ctx := testContext(t, 30*time.Second)
	id := newComplaintID()
	ev := eventstore.Event{
		ID:     uuid.NewString(),
		Type:   "ComplaintFiled",
		Schema: 3,
		Data:   []byte("payload bytes 客诉"),
		Header: nats.Header{
			eventstore.HeaderTraceParent: []string{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
			eventstore.HeaderTraceState:  []string{"kesu=1"},
		},
	}
	before := time.Now().Add(-time.Minute)
	app, err := e.store.Append(ctx, id, 0, ev)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	hist := loadAtLeast(t, ctx, e, id, 1)
	got := hist[0]
	if got.ID != ev.ID || got.Type != ev.Type || got.Schema != ev.Schema || string(got.Data) != string(ev.Data) {
		t.Fatalf("record %+v does not round-trip event %+v", got.Event, ev)
	}
	if got.ComplaintID != id || got.StreamSeq != app.Last() || got.Subject != "complaints."+id {
		t.Fatalf("record place %s/%s/%d, want %s at %d", got.ComplaintID, got.Subject, got.StreamSeq, id, app.Last())
	}
	if got.Stored.Before(before) || got.Stored.After(time.Now().Add(time.Minute)) {
		t.Fatalf("stored time %v is not now", got.Stored)
	}
	for _, k := range []string{eventstore.HeaderTraceParent, eventstore.HeaderTraceState} {
		if got.Header.Get(k) != ev.Header.Get(k) {
			t.Fatalf("header %s = %q, want %q", k, got.Header.Get(k), ev.Header.Get(k))
		}
	}
	for k := range got.Header {
		if k != eventstore.HeaderTraceParent && k != eventstore.HeaderTraceState {
			t.Fatalf("record header carries protocol header %q", k)
		}
	}

	// A projection consumer builds the same record from a delivered message.
	subject, _ := eventstore.ComplaintSubject(id)
	cons, err := e.js.OrderedConsumer(ctx, eventstore.StreamComplaints, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatalf("next: %v", err)
	}
	fromMsg, err := eventstore.RecordFromMsg(msg)
	if err != nil {
		t.Fatalf("record from msg: %v", err)
	}
	if fromMsg.ID != got.ID || fromMsg.StreamSeq != got.StreamSeq || fromMsg.Type != got.Type ||
		fromMsg.Schema != got.Schema || !fromMsg.Stored.Equal(got.Stored) || fromMsg.Header.Get(eventstore.HeaderTraceParent) != got.Header.Get(eventstore.HeaderTraceParent) {
		t.Fatalf("record from consumer %+v differs from loaded %+v", fromMsg, got)
	}

	// And from a stored message read with a get.
	stream, err := e.js.Stream(ctx, eventstore.StreamComplaints)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	raw, err := stream.GetMsg(ctx, got.StreamSeq)
	if err != nil {
		t.Fatalf("get msg: %v", err)
	}
	fromRaw, err := eventstore.RecordFromRawMsg(raw)
	if err != nil {
		t.Fatalf("record from raw: %v", err)
	}
	if fromRaw.ID != got.ID || fromRaw.StreamSeq != got.StreamSeq || fromRaw.ComplaintID != id {
		t.Fatalf("record from raw %+v differs from loaded %+v", fromRaw, got)
	}
}

func testDecideConverges(t *testing.T, e *env) {
	ctx := testContext(t, 120*time.Second)
	id := newComplaintID()
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	ids := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			var lastID string
			recs, err := eventstore.Decide(ctx, e.store, id, func(history []eventstore.Record) ([]eventstore.Event, error) {
				typ := "ContactAdded"
				if len(history) == 0 {
					typ = "ComplaintFiled"
				}
				ev := newEvent(typ)
				ev.Data = fmt.Appendf(nil, "writer %d after %d events", i, len(history))
				lastID = ev.ID
				return []eventstore.Event{ev}, nil
			}, eventstore.DecideOptions{MaxAttempts: 200, MaxBackoff: 50 * time.Millisecond})
			if err != nil {
				errs <- err
				return
			}
			if len(recs) != 1 || recs[0].ID != lastID || recs[0].StreamSeq == 0 {
				errs <- fmt.Errorf("writer %d: Decide returned %+v, want its one event with a sequence", i, recs)
				return
			}
			ids <- lastID
		})
	}
	wg.Wait()
	close(errs)
	close(ids)
	for err := range errs {
		t.Errorf("decide: %v", err)
	}
	if t.Failed() {
		t.FailNow()
	}
	hist := loadAtLeast(t, ctx, e, id, n)
	if len(hist) != n {
		t.Fatalf("history holds %d events, want %d (one per writer, none lost or doubled)", len(hist), n)
	}
	stored := map[string]bool{}
	for i, r := range hist {
		stored[r.ID] = true
		if (i == 0) != (r.Type == "ComplaintFiled") {
			t.Fatalf("event %d is %s: every decision must have seen the history before it", i, r.Type)
		}
	}
	for want := range ids {
		if !stored[want] {
			t.Fatalf("event %s reported appended but not in the history", want)
		}
	}
}

func testDecideNoEvents(t *testing.T, e *env) {
	ctx := testContext(t, 10*time.Second)
	id := newComplaintID()
	recs, err := eventstore.Decide(ctx, e.store, id, func([]eventstore.Record) ([]eventstore.Event, error) {
		return nil, nil
	}, eventstore.DecideOptions{})
	if err != nil || recs != nil {
		t.Fatalf("decide with no events: %v, %v; want nil, nil", recs, err)
	}
	hist, err := e.store.Load(ctx, id)
	if err != nil || len(hist) != 0 {
		t.Fatalf("after an empty decision the history is %v (%v), want empty", hist, err)
	}
}

func testDecideError(t *testing.T, e *env) {
	ctx := testContext(t, 10*time.Second)
	errRefused := errors.New("remedy above tier cap")
	_, err := eventstore.Decide(ctx, e.store, newComplaintID(), func([]eventstore.Record) ([]eventstore.Event, error) {
		return nil, errRefused
	}, eventstore.DecideOptions{})
	if !errors.Is(err, errRefused) {
		t.Fatalf("decide error %v, want the decision's own error", err)
	}
}

func testBadInput(t *testing.T, e *env) {
	ctx := testContext(t, 10*time.Second)
	good := newEvent("ComplaintFiled")
	dup := newEvent("ContactAdded")
	cases := []struct {
		name   string
		id     string
		events []eventstore.Event
		want   error
	}{
		{"empty complaint id", "", []eventstore.Event{good}, eventstore.ErrInvalidComplaintID},
		{"dot in complaint id", "a.b", []eventstore.Event{good}, eventstore.ErrInvalidComplaintID},
		{"wildcard complaint id", "*", []eventstore.Event{good}, eventstore.ErrInvalidComplaintID},
		{"tail wildcard complaint id", "abc>", []eventstore.Event{good}, eventstore.ErrInvalidComplaintID},
		{"space in complaint id", "a b", []eventstore.Event{good}, eventstore.ErrInvalidComplaintID},
		{"tab in complaint id", "a\tb", []eventstore.Event{good}, eventstore.ErrInvalidComplaintID},
		{"no events", newComplaintID(), nil, eventstore.ErrNoEvents},
		{"event without id", newComplaintID(), []eventstore.Event{{Type: "X"}}, eventstore.ErrInvalidEvent},
		{"event without type", newComplaintID(), []eventstore.Event{{ID: "x"}}, eventstore.ErrInvalidEvent},
		{"negative schema", newComplaintID(), []eventstore.Event{{ID: "x", Type: "X", Schema: -1}}, eventstore.ErrInvalidEvent},
		{"same id twice in one append", newComplaintID(), []eventstore.Event{dup, dup}, eventstore.ErrInvalidEvent},
		{"caller sets an expectation header", newComplaintID(), []eventstore.Event{{ID: "x", Type: "X",
			Header: nats.Header{"Nats-Expected-Last-Subject-Sequence": []string{"5"}}}}, eventstore.ErrInvalidEvent},
		{"caller sets the type header", newComplaintID(), []eventstore.Event{{ID: "x", Type: "X",
			Header: nats.Header{"kesu-event-type": []string{"Y"}}}}, eventstore.ErrInvalidEvent},
		{"line break in a header", newComplaintID(), []eventstore.Event{{ID: "x", Type: "X",
			Header: nats.Header{"traceparent": []string{"a\r\nb"}}}}, eventstore.ErrInvalidEvent},
		{"too many events", newComplaintID(), newEvents(eventstore.MaxEventsPerAppend+1, "X"), eventstore.ErrTooManyEvents},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.store.Append(ctx, tc.id, 0, tc.events...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("append: %v, want %v", err, tc.want)
			}
			if eventstore.ValidateComplaintID(tc.id) == nil {
				if hist, err := e.store.Load(ctx, tc.id); err != nil || len(hist) != 0 {
					t.Fatalf("rejected append left history %v (%v)", hist, err)
				}
			} else if _, err := e.store.Load(ctx, tc.id); !errors.Is(err, eventstore.ErrInvalidComplaintID) {
				t.Fatalf("load with bad id: %v, want ErrInvalidComplaintID", err)
			}
		})
	}
}

// testServerAnswers pins the raw server answers Append interprets, so a
// server upgrade that changes them fails here rather than in production.
func testServerAnswers(t *testing.T, e *env) {
	send := func(subject, msgID string, expected *uint64, batch string, batchSeq int, commit bool) (ackOrError, error) {
		m := nats.NewMsg(subject)
		m.Header.Set(eventstore.HeaderMsgID, msgID)
		if expected != nil {
			m.Header.Set("Nats-Expected-Last-Subject-Sequence", strconv.FormatUint(*expected, 10))
		}
		if batch != "" {
			m.Header.Set("Nats-Batch-Id", batch)
			m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(batchSeq))
			if !commit {
				return ackOrError{}, e.nc.PublishMsg(m)
			}
			m.Header.Set("Nats-Batch-Commit", "1")
		}
		resp, err := e.nc.RequestMsg(m, 10*time.Second)
		if err != nil {
			return ackOrError{}, err
		}
		var a ackOrError
		if err := json.Unmarshal(resp.Data, &a); err != nil {
			return ackOrError{}, fmt.Errorf("decode %q: %w", resp.Data, err)
		}
		return a, nil
	}
	publish := func(t *testing.T, subject, msgID string, expected *uint64, batch string, batchSeq int, commit bool) ackOrError {
		t.Helper()
		a, err := send(subject, msgID, expected, batch, batchSeq, commit)
		if err != nil {
			t.Fatalf("publish %s: %v", msgID, err)
		}
		return a
	}
	zero := uint64(0)
	subject, _ := eventstore.ComplaintSubject(newComplaintID())
	first := publish(t, subject, "a", &zero, "", 0, false)
	if first.Error != nil || first.Seq == 0 {
		t.Fatalf("first publish: %+v", first)
	}
	one := first.Seq

	// A retried identical publish: a single node checks the expectation
	// first (conflict), a cluster checks the message id first (duplicate).
	retry := publish(t, subject, "a", &zero, "", 0, false)
	if e.replicas == 1 && (retry.Error == nil || retry.Error.ErrorCode != 10071) {
		t.Fatalf("single node answered a retry with %+v, want err_code 10071", retry)
	}
	if e.replicas > 1 && (retry.Error != nil || !retry.Duplicate) {
		t.Fatalf("cluster answered a retry with %+v, want a duplicate acknowledgement", retry)
	}

	// A retried identical batch is refused as containing a stored message id.
	publish(t, subject, "b1", &one, "batch-1", 1, false)
	if a := publish(t, subject, "b2", nil, "batch-1", 2, true); a.Error != nil || a.Count != 2 {
		t.Fatalf("batch: %+v", a)
	}
	publish(t, subject, "b1", &one, "batch-2", 1, false)
	if a := publish(t, subject, "b2", nil, "batch-2", 2, true); a.Error == nil || a.Error.ErrorCode != 10201 {
		t.Fatalf("retried batch answered %+v, want err_code 10201", a)
	}

	// Concurrent writers with one expectation: a single node says 10071; a
	// cluster says 10164 while the winner is in flight, 10071 after.
	subject2, _ := eventstore.ComplaintSubject(newComplaintID())
	var wg sync.WaitGroup
	answers := make(chan ackOrError, 8)
	failures := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			a, err := send(subject2, fmt.Sprint("w", i), &zero, "", 0, false)
			if err != nil {
				failures <- err
				return
			}
			answers <- a
		})
	}
	wg.Wait()
	close(answers)
	close(failures)
	for err := range failures {
		t.Fatalf("concurrent publish: %v", err)
	}
	wins := 0
	for a := range answers {
		switch {
		case a.Error == nil:
			wins++
		case a.Error.ErrorCode == 10071:
		case a.Error.ErrorCode == 10164 && e.replicas > 1:
		default:
			t.Fatalf("concurrent writer answered %+v", a)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent writers won, want 1", wins)
	}
}

type ackOrError struct {
	Error     *jetstream.APIError `json:"error"`
	Seq       uint64              `json:"seq"`
	Duplicate bool                `json:"duplicate"`
	Count     int                 `json:"count"`
}

// loadAtLeast loads until the history has at least n events. A cluster's
// direct gets may be answered by a replica a moment behind the leader, so
// the read is polled with a deadline; a single node answers at once.
func loadAtLeast(t *testing.T, ctx context.Context, e *env, id string, n int) []eventstore.Record {
	t.Helper()
	for {
		hist, err := e.store.Load(ctx, id)
		if err != nil {
			t.Fatalf("load %s: %v", id, err)
		}
		if len(hist) >= n {
			return hist
		}
		select {
		case <-ctx.Done():
			t.Fatalf("load %s: %d events, want at least %d before the deadline", id, len(hist), n)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// assertHistory checks the history holds exactly the events wantIDs, in
// order, at strictly increasing stream sequences.
func assertHistory(t *testing.T, hist []eventstore.Record, wantIDs []string) {
	t.Helper()
	if len(hist) != len(wantIDs) {
		t.Fatalf("history has %d events, want %d", len(hist), len(wantIDs))
	}
	for i, r := range hist {
		if r.ID != wantIDs[i] {
			t.Fatalf("event %d is %s, want %s", i, r.ID, wantIDs[i])
		}
		if i > 0 && r.StreamSeq <= hist[i-1].StreamSeq {
			t.Fatalf("event %d at sequence %d does not follow %d", i, r.StreamSeq, hist[i-1].StreamSeq)
		}
	}
}

func testContext(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func newComplaintID() string { return uuid.Must(uuid.NewV7()).String() }

func newEvent(typ string) eventstore.Event {
	return eventstore.Event{ID: uuid.NewString(), Type: typ, Schema: 1, Data: []byte(`{"k":"v"}`)}
}

func newEvents(n int, typ string) []eventstore.Event {
	evs := make([]eventstore.Event, n)
	for i := range evs {
		evs[i] = newEvent(typ)
	}
	return evs
}

func eventIDs(evs []eventstore.Event) []string {
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	return ids
}
