package adapters_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	alertsv1 "github.com/kesu315/kesu/proto/gen/go/kesu/alerts/v1"
	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	escalationv1 "github.com/kesu315/kesu/proto/gen/go/kesu/escalation/v1"
	"github.com/kesu315/kesu/services/escalation/internal/adapters"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/grpcerr"
	"github.com/kesu315/kesu/services/kit/policy"
)

const (
	typeBreached  = "DeadlineBreached"
	typeEscalated = "ComplaintEscalated"
	typeRisk      = "RiskFlagged"
	typeBroken    = "PromiseBroken"
)

// A chat complaint warns at 50% of its 2 h first-response limit, breaches at
// 2 h and climbs one rung; passes after that append nothing more.
func TestWarnBreachEscalateOnce(t *testing.T) {
	w := newWorld(t)
	clk := clock.NewManual(t0)
	in := w.start(startOpts{clock: clk, opts: adapters.Options{NoPoller: true}})
	id := w.file(t0, filing{channel: complaintv1.Channel_CHANNEL_ONLINE_CHAT})

	clk.Set(t0.Add(59 * time.Minute))
	pass(t, in.poller)
	if n := w.count(id, typeRisk); n != 0 {
		t.Fatalf("warned before the warning point: %v", w.eventTypes(id))
	}
	clk.Set(t0.Add(time.Hour))
	pass(t, in.poller)
	if n := w.count(id, typeRisk); n != 1 {
		t.Fatalf("at risk: %v", w.eventTypes(id))
	}
	clk.Set(t0.Add(2 * time.Hour))
	w.settle(t, in.poller, id)
	if w.count(id, typeBreached) != 1 || w.count(id, typeEscalated) != 1 || w.count(id, typeRisk) != 1 {
		t.Fatalf("after breach: %v", w.eventTypes(id))
	}
	b := w.lastEvent(id, typeBreached).GetDeadlineBreached()
	if b.GetClock() != complaintv1.ClockKind_CLOCK_KIND_FIRST_RESPONSE || !b.GetDueAt().AsTime().Equal(t0.Add(2*time.Hour)) || b.GetGeneration() != 1 {
		t.Fatalf("breach %v", b)
	}
	ce := w.lastEvent(id, typeEscalated).GetComplaintEscalated()
	if ce.GetToLevelId() != "supervisor" || ce.GetQueue() != "supervisor" || ce.GetTrigger() != complaintv1.EscalationTrigger_ESCALATION_TRIGGER_BREACH {
		t.Fatalf("escalated %v", ce)
	}
	a := w.alertCounts()
	if a[alertsv1.AlertKind_ALERT_KIND_AT_RISK] != 1 || a[alertsv1.AlertKind_ALERT_KIND_BREACHED] != 1 {
		t.Fatalf("alerts %v", a)
	}
	// The clocks as the API shows them, once the projection has the breach.
	w.waitProjected(id, uint64(len(w.eventTypes(id))))
	res, err := in.client.GetClocks(as(t, auth.RoleSupervisor), &escalationv1.GetClocksRequest{ComplaintId: id})
	if err != nil {
		t.Fatal(err)
	}
	fr := clockByKind(t, res.GetClocks(), complaintv1.ClockKind_CLOCK_KIND_FIRST_RESPONSE, "")
	if fr.GetStatus() != escalationv1.ClockStatus_CLOCK_STATUS_BREACHED || !fr.GetWarned() || res.GetLevelId() != "supervisor" {
		t.Fatalf("clocks %v level %s", fr, res.GetLevelId())
	}
	if _, err := in.client.GetClocks(as(t, auth.RoleSupervisor), &escalationv1.GetClocksRequest{ComplaintId: "nope"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad id: %v", err)
	}
}

// The ladder's reaction decides on the projection's state when the complaint
// is still at the cause's sequence. Run again — after the escalation was
// folded, and with the projection's row put back to the cause as if it had
// not folded the escalation yet — it must not escalate a second time.
func TestEscalationReactionRerunEscalatesOnce(t *testing.T) {
	w := newWorld(t)
	clk := clock.NewManual(t0)
	in := w.start(startOpts{clock: clk, opts: adapters.Options{NoPoller: true}})
	id := w.file(t0, filing{channel: complaintv1.Channel_CHANNEL_ONLINE_CHAT})
	clk.Set(t0.Add(2 * time.Hour))
	w.settle(t, in.poller, id)
	if w.count(id, typeBreached) != 1 || w.count(id, typeEscalated) != 1 {
		t.Fatalf("after breach: %v", w.eventTypes(id))
	}
	ctx := testCtx(t)
	var causeSeq uint64
	if err := w.pool.QueryRow(ctx, `SELECT (body->>'cause_seq')::bigint FROM escalation.reactions
		WHERE complaint_id = $1 AND kind = 'escalate'`, id).Scan(&causeSeq); err != nil || causeSeq == 0 {
		t.Fatalf("escalate reaction's cause_seq %d: %v", causeSeq, err)
	}
	rearm := func() {
		t.Helper()
		if _, err := w.pool.Exec(ctx, `UPDATE escalation.reactions SET fire_at = $1 WHERE complaint_id = $2`, clk.Now(), id); err != nil {
			t.Fatal(err)
		}
	}
	// 1. The projection has folded the escalation: the slow path finds it.
	rearm()
	w.settle(t, in.poller, id)
	if n := w.count(id, typeEscalated); n != 1 {
		t.Fatalf("rerun after fold: %d escalations: %v", n, w.eventTypes(id))
	}
	// 2. The projection's row as it was at the cause (lagging): the fast path
	// decides, its append expecting the cause's sequence conflicts, and the
	// full decision finds the escalation stored.
	if _, err := w.pool.Exec(ctx, `UPDATE escalation.complaints SET last_seq = $2,
		facts = jsonb_set(jsonb_set(facts, '{last_seq}', to_jsonb($2::bigint)), '{level_id}', '""')
		WHERE complaint_id = $1`, id, int64(causeSeq)); err != nil {
		t.Fatal(err)
	}
	rearm()
	pass(t, in.poller)
	if n := w.count(id, typeEscalated); n != 1 {
		t.Fatalf("rerun on a lagging projection: %d escalations: %v", n, w.eventTypes(id))
	}
}

// A wait answered only after it was due, then a new contact before the
// poller fired: the restart moves the deadline row to the next generation,
// and the late generation's breach must still be recorded — once — while
// the new wait runs on and breaches on its own.
func TestLateStopThenRestartStillBreaches(t *testing.T) {
	w := newWorld(t)
	clk := clock.NewManual(t0)
	in := w.start(startOpts{clock: clk, opts: adapters.Options{NoPoller: true}})
	id := w.file(t0, filing{channel: complaintv1.Channel_CHANNEL_ONLINE_CHAT})
	w.appendEvents(id, t0.Add(time.Minute), &complaintv1.AgentResponded{AgentId: "a1", FirstResponse: true})
	w.waitProjected(id, w.appendEvents(id, t0.Add(10*time.Minute), &complaintv1.ContactAdded{ContactNumber: 2}))
	clocks := func() *escalationv1.Clock {
		t.Helper()
		res, err := in.client.GetClocks(as(t, auth.RoleSupervisor), &escalationv1.GetClocksRequest{ComplaintId: id})
		if err != nil {
			t.Fatal(err)
		}
		return clockByKind(t, res.GetClocks(), complaintv1.ClockKind_CLOCK_KIND_NEXT_RESPONSE, "")
	}
	first := clocks()
	due1 := first.GetDueAt().AsTime()
	if first.GetGeneration() != 1 || !due1.After(t0) {
		t.Fatalf("next response clock %v", first)
	}
	// Answered late, asked again, all before any pass ran.
	w.appendEvents(id, due1.Add(5*time.Minute), &complaintv1.AgentResponded{AgentId: "a1"})
	w.waitProjected(id, w.appendEvents(id, due1.Add(10*time.Minute), &complaintv1.ContactAdded{ContactNumber: 3}))
	second := clocks()
	if second.GetGeneration() != 2 || !second.GetDueAt().AsTime().After(due1.Add(10*time.Minute)) {
		t.Fatalf("restarted clock %v", second)
	}
	breaches := func() map[int64]int {
		t.Helper()
		recs, err := w.store.Load(testCtx(t), id)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int64]int{}
		for _, r := range recs {
			if r.Type != typeBreached {
				continue
			}
			ev, err := events.Decode(r)
			if err != nil {
				t.Fatal(err)
			}
			if b := ev.GetDeadlineBreached(); b.GetClock() == complaintv1.ClockKind_CLOCK_KIND_NEXT_RESPONSE {
				out[b.GetGeneration()]++
				if b.GetGeneration() == 1 && !b.GetDueAt().AsTime().Equal(due1) {
					t.Errorf("late breach due %v, want %v", b.GetDueAt().AsTime(), due1)
				}
			}
		}
		return out
	}
	clk.Set(due1.Add(11 * time.Minute))
	w.settle(t, in.poller, id)
	w.settle(t, in.poller, id) // a second round finds nothing more to do
	if got := breaches(); got[1] != 1 || got[2] != 0 {
		t.Fatalf("next response breaches by generation %v, want the late one once: %v", got, w.eventTypes(id))
	}
	if a := w.alertCounts(); a[alertsv1.AlertKind_ALERT_KIND_BREACHED] != 1 {
		t.Fatalf("alerts %v", a)
	}
	clk.Set(second.GetDueAt().AsTime().Add(time.Minute))
	w.settle(t, in.poller, id)
	if got := breaches(); got[1] != 1 || got[2] != 1 {
		t.Fatalf("next response breaches by generation %v after the new wait ran out: %v", got, w.eventTypes(id))
	}
}

// Resolving pauses the resolution clock: no breach while resolved; reopening
// resumes it with the time it had left; responding stops first response.
func TestPauseResumeAndStops(t *testing.T) {
	w := newWorld(t)
	clk := clock.NewManual(t0)
	in := w.start(startOpts{clock: clk, opts: adapters.Options{NoPoller: true}})
	id := w.file(t0, filing{channel: complaintv1.Channel_CHANNEL_EMAIL})
	w.appendEvents(id, t0.Add(time.Hour), &complaintv1.AgentResponded{AgentId: "a1", FirstResponse: true})
	seq := w.appendEvents(id, t0.Add(10*time.Hour), &complaintv1.ComplaintResolved{})
	w.waitProjected(id, seq)

	clk.Set(t0.Add(100 * time.Hour)) // past the original 72 h
	pass(t, in.poller)
	if n := w.count(id, typeBreached); n != 0 {
		t.Fatalf("a paused clock breached: %v", w.eventTypes(id))
	}
	reopen := t0.Add(100 * time.Hour)
	seq = w.appendEvents(id, reopen, &complaintv1.ComplaintReopened{Via: complaintv1.ReopenVia_REOPEN_VIA_DISSATISFIED_FOLLOW_UP})
	w.waitProjected(id, seq)
	res, err := in.client.GetClocks(as(t, auth.RoleAgent), &escalationv1.GetClocksRequest{ComplaintId: id})
	if err != nil {
		t.Fatal(err)
	}
	rc := clockByKind(t, res.GetClocks(), complaintv1.ClockKind_CLOCK_KIND_RESOLUTION, "")
	if rc.GetStatus() != escalationv1.ClockStatus_CLOCK_STATUS_RUNNING || !rc.GetDueAt().AsTime().Equal(reopen.Add(62*time.Hour)) {
		t.Fatalf("resumed %v", rc)
	}
	if fr := clockByKind(t, res.GetClocks(), complaintv1.ClockKind_CLOCK_KIND_FIRST_RESPONSE, ""); fr.GetStatus() != escalationv1.ClockStatus_CLOCK_STATUS_STOPPED {
		t.Fatalf("first response %v", fr)
	}
	clk.Set(reopen.Add(62 * time.Hour))
	pass(t, in.poller)
	if w.count(id, typeBreached) != 1 {
		t.Fatalf("resumed clock did not breach: %v", w.eventTypes(id))
	}
}

// Three replicas poll the same table at once: every breach is appended once.
// A replica that appended and then died before committing leaves the row to
// the others, who append nothing more.
func TestReplicasFireEachDeadlineOnce(t *testing.T) {
	w := newWorld(t)
	clk := clock.NewManual(t0)
	in := w.start(startOpts{clock: clk, opts: adapters.Options{NoPoller: true}})
	const n = 24
	ids := make([]string, n)
	for i := range ids {
		ids[i] = w.file(t0, filing{channel: complaintv1.Channel_CHANNEL_ONLINE_CHAT})
	}
	// The crashed replica: it appends the breaches of half the rows, then dies
	// before its transaction commits, so those rows are still due.
	ctx := testCtx(t)
	clk.Set(t0.Add(2 * time.Hour))
	_ = in
	crashed := adapters.NewPoller(w.pool, w.store, w.js, loadPolicy(t), clk, adapters.PollerConfig{
		Batch: n / 2, BeforeCommit: func() error { return errors.New("replica killed") }})
	if _, err := crashed.PollOnce(ctx); err == nil {
		t.Fatal("the crashed pass committed")
	}
	appended := 0
	for _, id := range ids {
		appended += w.count(id, typeBreached)
	}
	if appended != n/2 {
		t.Fatalf("the crashed replica appended %d breaches, want %d", appended, n/2)
	}

	var replicas []*adapters.Poller
	for r := range 3 {
		pool, err := pgxpool.New(ctx, w.dbURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		replicas = append(replicas, adapters.NewPoller(pool, w.store, w.js, loadPolicy(t), clk, adapters.PollerConfig{Batch: 4 + r, Concurrency: 4}))
	}
	// Rounds: the replicas race over the due rows (breaches, then the ladder
	// reactions to them) while the projection catches up in between.
	for round := 0; round < 10; round++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		handled := 0
		for _, p := range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n, err := p.PollOnce(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					handled += n
					mu.Unlock()
					if n == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		for _, id := range ids {
			w.waitProjected(id, w.lastSeq(id))
		}
		if handled == 0 && round > 0 {
			break
		}
	}
	for _, id := range ids {
		if b, e := w.count(id, typeBreached), w.count(id, typeEscalated); b != 1 || e != 1 {
			t.Errorf("%s: %d breaches, %d escalations: %v", id, b, e, w.eventTypes(id))
		}
	}
	var left int
	if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM escalation.deadlines WHERE clock='first_response' AND status <> 'breached'`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d first-response rows not marked breached (%v)", left, err)
	}
}

func loadPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	p, err := policy.Load(shippedPath)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A deadline that passed while the service was down fires once on start.
func TestRestartCatchUp(t *testing.T) {
	w := newWorld(t)
	clk := clock.NewManual(t0)
	first := w.start(startOpts{clock: clk, opts: adapters.Options{NoPoller: true}})
	id := w.file(t0, filing{channel: complaintv1.Channel_CHANNEL_IN_STORE}) // 2 h limit
	first.stop()

	clk.Set(t0.Add(5 * time.Hour))
	second := w.start(startOpts{clock: clk}) // its own poller runs
	ctx := testCtx(t)
	for w.count(id, typeBreached) == 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("no catch-up breach: %v", w.eventTypes(id))
		case <-time.After(20 * time.Millisecond):
		}
	}
	w.settle(t, second.poller, id) // passes racing the running poller add nothing
	if w.count(id, typeBreached) != 1 || w.count(id, typeRisk) != 0 || w.count(id, typeEscalated) != 1 {
		t.Fatalf("catch-up: %v (no at-risk warning for a clock already past due)", w.eventTypes(id))
	}
}

// On the accelerated clock (an hour per wall second) the running poller
// fires a 2-hour deadline by itself.
func TestAcceleratedClock(t *testing.T) {
	w := newWorld(t)
	clk := clock.Accelerated{Start: t0, Epoch: time.Now(), Speed: 3600}
	w.start(startOpts{clock: clk})
	id := w.file(clk.Now(), filing{channel: complaintv1.Channel_CHANNEL_ONLINE_CHAT})
	ctx := testCtx(t)
	for w.count(id, typeBreached) == 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("no breach on the accelerated clock: %v", w.eventTypes(id))
		case <-time.After(50 * time.Millisecond):
		}
	}
	b := w.lastEvent(id, typeBreached).GetDeadlineBreached()
	if b.GetBreachedAt().AsTime().Before(b.GetDueAt().AsTime()) {
		t.Fatalf("breached at %s before due %s", b.GetBreachedAt().AsTime(), b.GetDueAt().AsTime())
	}
	if w.count(id, typeRisk) != 1 {
		t.Fatalf("no at-risk warning first: %v", w.eventTypes(id))
	}
}

// A major complaint with a 315 threat reaches a supervisor at once; the war
// room sees it live on the alert stream, and a later watcher replays it.
func TestMajorArrivalAlertsAndWatch(t *testing.T) {
	w := newWorld(t)
	clk := clock.NewManual(t0)
	in := w.start(startOpts{clock: clk, opts: adapters.Options{NoPoller: true}})
	ctx, cancel := context.WithCancel(as(t, auth.RoleSupervisor))
	defer cancel()
	stream, err := in.client.WatchAlerts(ctx, &escalationv1.WatchAlertsRequest{ShopId: shop})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *alertsv1.Alert, 16)
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				close(got)
				return
			}
			got <- m.GetAlert()
		}
	}()
	// The ordered consumer is created when the first message is requested;
	// publish only once the watch is surely live.
	if _, err := in.client.GetClocks(as(t, auth.RoleSupervisor), &escalationv1.GetClocksRequest{ComplaintId: "0195a7e4-0000-7000-8000-000000000000"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown complaint: %v", err)
	}
	id := w.file(t0, filing{channel: complaintv1.Channel_CHANNEL_WEIBO, severity: complaintv1.Severity_SEVERITY_MAJOR, signals: []string{"threat_315"}})
	pass(t, in.poller)
	ce := w.lastEvent(id, typeEscalated).GetComplaintEscalated()
	if ce.GetToLevelId() != "supervisor" || w.count(id, typeEscalated) != 1 {
		t.Fatalf("major: %v %v", ce, w.eventTypes(id))
	}
	want := map[alertsv1.AlertKind]bool{alertsv1.AlertKind_ALERT_KIND_MAJOR_ARRIVED: true, alertsv1.AlertKind_ALERT_KIND_ESCALATED: true}
	timeout := time.After(30 * time.Second)
	for len(want) > 0 {
		select {
		case a, ok := <-got:
			if !ok {
				t.Fatal("watch ended")
			}
			if a.GetComplaintId() == id {
				delete(want, a.GetKind())
			}
		case <-timeout:
			t.Fatalf("alerts not seen live: missing %v", want)
		}
	}
	// Replay: a watcher joining later asks for alerts since t0, majors only.
	ctx2, cancel2 := context.WithCancel(as(t, auth.RolePR))
	defer cancel2()
	replay, err := in.client.WatchAlerts(ctx2, &escalationv1.WatchAlertsRequest{Since: ts(t0), Kinds: []alertsv1.AlertKind{alertsv1.AlertKind_ALERT_KIND_MAJOR_ARRIVED}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := replay.Recv()
	if err != nil || m.GetAlert().GetKind() != alertsv1.AlertKind_ALERT_KIND_MAJOR_ARRIVED || m.GetAlert().GetComplaintId() != id {
		t.Fatalf("replay %v %v", m, err)
	}
	// Agents do not watch the war room.
	bad, err := in.client.WatchAlerts(as(t, auth.RoleAgent), &escalationv1.WatchAlertsRequest{})
	if err == nil {
		_, err = bad.Recv()
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("agent watch: %v", err)
	}
}

// Repeat contacts and transfers over their thresholds climb the ladder; a
// broken promise appends PromiseBroken once.
func TestTriggersAndPromise(t *testing.T) {
	w := newWorld(t)
	clk := clock.NewManual(t0)
	in := w.start(startOpts{clock: clk, opts: adapters.Options{NoPoller: true}})

	rc := w.file(t0, filing{channel: complaintv1.Channel_CHANNEL_HOTLINE_400})
	w.appendEvents(rc, t0.Add(time.Minute), &complaintv1.ContactAdded{ContactNumber: 2})
	w.appendEvents(rc, t0.Add(2*time.Minute), &complaintv1.ContactAdded{ContactNumber: 3})
	w.waitProjected(rc, w.appendEvents(rc, t0.Add(3*time.Minute), &complaintv1.AgentResponded{AgentId: "a"}))
	pass(t, in.poller)
	if w.count(rc, typeEscalated) != 0 {
		t.Fatalf("2 repeat contacts escalated: %v", w.eventTypes(rc))
	}
	w.waitProjected(rc, w.appendEvents(rc, t0.Add(4*time.Minute), &complaintv1.ContactAdded{ContactNumber: 4}))
	pass(t, in.poller)
	if ce := w.lastEvent(rc, typeEscalated).GetComplaintEscalated(); ce.GetTrigger() != complaintv1.EscalationTrigger_ESCALATION_TRIGGER_REPEAT_CONTACTS {
		t.Fatalf("repeat contacts: %v", ce)
	}

	tr := w.file(t0, filing{channel: complaintv1.Channel_CHANNEL_HOTLINE_400})
	w.appendEvents(tr, t0.Add(time.Minute), &complaintv1.ComplaintTransferred{TransferCount: 1})
	w.waitProjected(tr, w.appendEvents(tr, t0.Add(2*time.Minute), &complaintv1.ComplaintTransferred{TransferCount: 2}))
	pass(t, in.poller)
	if ce := w.lastEvent(tr, typeEscalated).GetComplaintEscalated(); ce.GetTrigger() != complaintv1.EscalationTrigger_ESCALATION_TRIGGER_TRANSFERS || w.count(tr, typeEscalated) != 1 {
		t.Fatalf("transfers: %v %v", ce, w.eventTypes(tr))
	}

	pr := w.file(t0, filing{channel: complaintv1.Channel_CHANNEL_ONLINE_CHAT})
	w.appendEvents(pr, t0.Add(10*time.Second), &complaintv1.AgentResponded{AgentId: "a1", FirstResponse: true})
	w.waitProjected(pr, w.appendEvents(pr, t0.Add(20*time.Second), &complaintv1.PromiseMade{PromiseId: "p1", AgentId: "a1", DueAt: ts(t0.Add(10 * time.Minute))}))
	clk.Set(t0.Add(11 * time.Minute))
	w.settle(t, in.poller, pr)
	if w.count(pr, typeBroken) != 1 || w.count(pr, typeBreached) != 0 || w.count(pr, typeEscalated) != 1 {
		t.Fatalf("promise: %v", w.eventTypes(pr))
	}
	if ce := w.lastEvent(pr, typeEscalated).GetComplaintEscalated(); ce.GetTrigger() != complaintv1.EscalationTrigger_ESCALATION_TRIGGER_BROKEN_PROMISE || ce.GetToLevelId() != "supervisor" {
		t.Fatalf("promise escalation %v", ce)
	}
	if w.alertCounts()[alertsv1.AlertKind_ALERT_KIND_PROMISE_BROKEN] != 1 {
		t.Fatalf("alerts %v", w.alertCounts())
	}
}

// Supervisors move complaints on the ladder by hand, always with a reason.
func TestManualEscalation(t *testing.T) {
	w := newWorld(t)
	clk := clock.NewManual(t0)
	in := w.start(startOpts{clock: clk, opts: adapters.Options{NoPoller: true}})
	id := w.file(t0, filing{channel: complaintv1.Channel_CHANNEL_HOTLINE_400})
	sup := as(t, auth.RoleSupervisor)

	_, err := in.client.Escalate(sup, &escalationv1.EscalateRequest{ComplaintId: id, ToLevel: "moon"})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad request: %v", err)
	}
	fields := map[string]bool{}
	for _, v := range grpcerr.FieldViolations(err) {
		fields[v.Field] = true
	}
	if !fields["reason"] || !fields["to_level"] {
		t.Fatalf("violations %v", grpcerr.FieldViolations(err))
	}
	if _, err := in.client.Escalate(as(t, auth.RoleAgent), &escalationv1.EscalateRequest{ComplaintId: id, Reason: "x"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("agent escalate: %v", err)
	}
	res, err := in.client.Escalate(sup, &escalationv1.EscalateRequest{ComplaintId: id, ToLevel: "platform", Reason: "平台已介入，需要主管跟进"})
	if err != nil || res.GetToLevel() != "platform" || res.GetFromLevel() != "agent" || res.GetQueue() != "platform" {
		t.Fatalf("escalate %v %v", res, err)
	}
	if _, err := in.client.Escalate(sup, &escalationv1.EscalateRequest{ComplaintId: id, ToLevel: "supervisor", Reason: "x"}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("escalate downwards: %v", err)
	}
	if _, err := in.client.Deescalate(as(t, auth.RolePR), &escalationv1.DeescalateRequest{ComplaintId: id, Reason: "x"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("pr de-escalate: %v", err)
	}
	down, err := in.client.Deescalate(sup, &escalationv1.DeescalateRequest{ComplaintId: id, Reason: "客户已接受方案"})
	if err != nil || down.GetToLevel() != "supervisor" {
		t.Fatalf("de-escalate %v %v", down, err)
	}
	ce := w.lastEvent(id, typeEscalated)
	if ce.GetComplaintEscalated().GetTrigger() != complaintv1.EscalationTrigger_ESCALATION_TRIGGER_MANUAL || ce.GetComplaintEscalated().GetReason() != "客户已接受方案" ||
		ce.GetActor().GetId() != "supervisor-1" || ce.GetComplaintEscalated().GetQueue() != "supervisor" {
		t.Fatalf("event %v", ce)
	}
	if _, err := in.client.Escalate(sup, &escalationv1.EscalateRequest{ComplaintId: "0195a7e4-0000-7000-8000-000000000000", Reason: "x"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown complaint: %v", err)
	}
	w.waitProjected(id, w.appendEvents(id, t0.Add(time.Hour), &complaintv1.ComplaintClosed{}))
	if _, err := in.client.Escalate(sup, &escalationv1.EscalateRequest{ComplaintId: id, Reason: "x"}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("closed: %v", err)
	}
}

// A policy change: the dry run lists what would change and writes nothing;
// restarting with the new policy recomputes the open complaints' deadlines.
func TestRecompute(t *testing.T) {
	w := newWorld(t)
	clk := clock.NewManual(t0)
	in := w.start(startOpts{clock: clk, opts: adapters.Options{NoPoller: true}})
	open := w.file(t0, filing{channel: complaintv1.Channel_CHANNEL_EMAIL})
	closed := w.file(t0, filing{channel: complaintv1.Channel_CHANNEL_EMAIL})
	w.waitProjected(closed, w.appendEvents(closed, t0.Add(time.Hour), &complaintv1.ComplaintClosed{}))

	data, err := os.ReadFile(shippedPath)
	if err != nil {
		t.Fatal(err)
	}
	const from = "resolution:     {target: 48h, limit: 72h, warn: 80%}"
	if !strings.Contains(string(data), from) {
		t.Fatalf("shipped policy changed; update the test")
	}
	candidate := strings.Replace(string(data), from, "resolution:     {target: 36h, limit: 60h, warn: 80%}", 1)

	if _, err := in.client.Recompute(as(t, auth.RoleAdmin), &escalationv1.RecomputeRequest{PolicyYaml: candidate}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("applying a candidate: %v", err)
	}
	if _, err := in.client.Recompute(as(t, auth.RoleSupervisor), &escalationv1.RecomputeRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("supervisor apply: %v", err)
	}
	dry, err := in.client.Recompute(as(t, auth.RoleSupervisor), &escalationv1.RecomputeRequest{DryRun: true, PolicyYaml: candidate})
	if err != nil {
		t.Fatal(err)
	}
	if dry.GetComplaints() != 1 || dry.GetChanged() != 1 || dry.GetApplied() {
		t.Fatalf("dry run %v", dry)
	}
	ch := dry.GetChanges()[0]
	if ch.GetComplaintId() != open || ch.GetClock() != complaintv1.ClockKind_CLOCK_KIND_RESOLUTION ||
		!ch.GetOldDueAt().AsTime().Equal(t0.Add(72*time.Hour)) || !ch.GetNewDueAt().AsTime().Equal(t0.Add(60*time.Hour)) {
		t.Fatalf("change %v", ch)
	}
	// Same policy: nothing to change.
	same, err := in.client.Recompute(as(t, auth.RoleAdmin), &escalationv1.RecomputeRequest{DryRun: true})
	if err != nil || same.GetChanged() != 0 {
		t.Fatalf("same policy %v %v", same, err)
	}
	clocks, _ := in.client.GetClocks(as(t, auth.RoleAdmin), &escalationv1.GetClocksRequest{ComplaintId: open})
	if rc := clockByKind(t, clocks.GetClocks(), complaintv1.ClockKind_CLOCK_KIND_RESOLUTION, ""); !rc.GetDueAt().AsTime().Equal(t0.Add(72 * time.Hour)) {
		t.Fatalf("dry run wrote: %v", rc)
	}
	in.stop()

	path := filepath.Join(t.TempDir(), "kesu.yaml")
	if err := os.WriteFile(path, []byte(candidate), 0o600); err != nil {
		t.Fatal(err)
	}
	// Deployed: the new instance sees another digest and recomputes at start.
	next := w.start(startOpts{clock: clk, policyPath: path})
	ctx := testCtx(t)
	for {
		clocks, err := next.client.GetClocks(as(t, auth.RoleAdmin), &escalationv1.GetClocksRequest{ComplaintId: open})
		if err != nil {
			t.Fatal(err)
		}
		if rc := clockByKind(t, clocks.GetClocks(), complaintv1.ClockKind_CLOCK_KIND_RESOLUTION, ""); rc.GetDueAt().AsTime().Equal(t0.Add(60 * time.Hour)) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("start-up recompute did not apply the new policy")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Filings of one category above the rolling baseline raise one spike alert.
func TestSpikeAlert(t *testing.T) {
	w := newWorld(t)
	clk := clock.NewManual(t0)
	in := w.start(startOpts{clock: clk, opts: adapters.Options{NoPoller: true,
		Spike: adapters.SpikeConfig{Window: time.Hour, Baselines: 24, Factor: 3, MinCount: 3}}})
	for i := range 4 {
		w.file(t0.Add(time.Duration(i)*time.Minute), filing{channel: complaintv1.Channel_CHANNEL_EMAIL, category: "counterfeit"})
	}
	pass(t, in.poller)
	if n := w.alertCounts()[alertsv1.AlertKind_ALERT_KIND_SPIKE]; n != 1 {
		t.Fatalf("spike alerts %d: %v", n, w.alertCounts())
	}
}
