package adapters_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	routingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/routing/v1"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/grpcerr"
	"github.com/kesu315/kesu/services/routing/internal/adapters"
	"github.com/kesu315/kesu/services/routing/internal/domain"
)

const (
	online  = routingv1.Presence_PRESENCE_ONLINE
	away    = routingv1.Presence_PRESENCE_AWAY
	offline = routingv1.Presence_PRESENCE_OFFLINE
)

// A complaint is routed by the policy, assigned to the least loaded agent,
// and worked to resolution; every step checks state and authority.
func TestCaseworkEndToEnd(t *testing.T) {
	h := start(t)
	h.agent("li", 1, 6, online, "after_sales_online")
	h.agent("wang", 1, 6, online, "after_sales_online")
	first := h.file(filing{})
	w := h.work(first)
	if w.GetQueue() != "after_sales_online" || w.GetRule() != "default" || w.GetOwner() != "li" {
		t.Fatalf("routed %s by %q to %q, want after_sales_online by default to li", w.GetQueue(), w.GetRule(), w.GetOwner())
	}
	id := h.file(filing{expect: []complaintv1.RemedyKind{complaintv1.RemedyKind_REMEDY_KIND_REFUND}})
	if w := h.work(id); w.GetOwner() != "wang" {
		t.Fatalf("second complaint went to %q, want the less loaded wang", w.GetOwner())
	}
	wang := as("wang", auth.RoleAgent, 1)
	li := as("li", auth.RoleAgent, 1)

	mine, err := h.api.MyWork(wang, &routingv1.MyWorkRequest{})
	if err != nil || len(mine.GetItems()) != 1 || mine.GetItems()[0].GetComplaintId() != id {
		t.Fatalf("MyWork %v %v", mine, err)
	}
	_, err = h.api.Respond(li, &routingv1.RespondRequest{ComplaintId: id})
	wantCode(t, err, codes.PermissionDenied)

	h.clk.Advance(90 * time.Second)
	res, err := h.api.Respond(wang, &routingv1.RespondRequest{ComplaintId: id})
	if err != nil || !res.GetFirstResponse() || res.GetResponseSeconds() != 90 {
		t.Fatalf("respond %v %v", res, err)
	}
	p, err := h.api.MakePromise(wang, &routingv1.MakePromiseRequest{ComplaintId: id, Description: "核实后 10 分钟内回复", Within: durationpb.New(10 * time.Minute)})
	if err != nil || !p.GetDueAt().AsTime().Equal(h.clk.Now().Add(10*time.Minute)) {
		t.Fatalf("promise %v %v", p, err)
	}
	small, err := h.api.ProposeRemedy(wang, &routingv1.ProposeRemedyRequest{ComplaintId: id, Kind: complaintv1.RemedyKind_REMEDY_KIND_COMPENSATION, AmountFen: 20_00, Note: "差价补偿"})
	if err != nil || !small.GetApproved() {
		t.Fatalf("20 yuan within tier 1's cap: %v %v", small, err)
	}
	big, err := h.api.ProposeRemedy(wang, &routingv1.ProposeRemedyRequest{ComplaintId: id, Kind: complaintv1.RemedyKind_REMEDY_KIND_REFUND, AmountFen: 150_00})
	if err != nil || big.GetApproved() {
		t.Fatalf("150 yuan must wait: %v %v", big, err)
	}
	_, err = h.api.ApproveRemedy(wang, &routingv1.ApproveRemedyRequest{ComplaintId: id, RemedyId: big.GetRemedyId()})
	wantCode(t, err, codes.PermissionDenied)
	if grpcerr.Reason(err) != "ABOVE_TIER_CAP" {
		t.Errorf("reason %q", grpcerr.Reason(err))
	}
	_, err = h.api.Resolve(wang, &routingv1.ResolveRequest{ComplaintId: id, Outcome: complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_REMEDY_GRANTED, RemedyId: big.GetRemedyId(), Retention: complaintv1.Retention_RETENTION_RETURNED})
	wantCode(t, err, codes.FailedPrecondition)
	if w := h.work(id); w.GetPendingRemedies() != 1 {
		t.Errorf("pending remedies %d", w.GetPendingRemedies())
	}
	if _, err := h.api.ApproveRemedy(supervisor, &routingv1.ApproveRemedyRequest{ComplaintId: id, RemedyId: big.GetRemedyId()}); err != nil {
		t.Fatal(err)
	}
	_, err = h.api.Resolve(wang, &routingv1.ResolveRequest{ComplaintId: id, Outcome: complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_REMEDY_GRANTED, RemedyId: big.GetRemedyId()})
	wantCode(t, err, codes.InvalidArgument)
	if fv := grpcerr.FieldViolations(err); len(fv) != 1 || fv[0].Field != "retention" {
		t.Errorf("violations %v", fv)
	}
	if _, err := h.api.Resolve(wang, &routingv1.ResolveRequest{ComplaintId: id, Outcome: complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_REMEDY_GRANTED,
		RemedyId: big.GetRemedyId(), Summary: "退款 150 元", Retention: complaintv1.Retention_RETENTION_RETURNED}); err != nil {
		t.Fatal(err)
	}
	_, err = h.api.Respond(wang, &routingv1.RespondRequest{ComplaintId: id})
	wantCode(t, err, codes.FailedPrecondition)
	if w := h.work(id); w.GetStatus() != routingv1.WorkStatus_WORK_STATUS_RESOLVED || w.GetOwner() != "" {
		t.Errorf("after resolve: %v", w)
	}
	if l := h.load("wang"); l != 0 {
		t.Errorf("wang's load %d after resolving", l)
	}

	// Bad input and unknown things.
	_, err = h.api.Claim(wang, &routingv1.ClaimRequest{ComplaintId: "nope"})
	wantCode(t, err, codes.InvalidArgument)
	_, err = h.api.Claim(wang, &routingv1.ClaimRequest{ComplaintId: "0195f000-0000-7000-8000-00000000abcd"})
	wantCode(t, err, codes.NotFound)
	_, err = h.api.Transfer(li, &routingv1.TransferRequest{ComplaintId: first, ToQueue: "refund"})
	wantCode(t, err, codes.InvalidArgument)
	_, err = h.api.ListQueue(li, &routingv1.ListQueueRequest{Queue: "nope"})
	wantCode(t, err, codes.InvalidArgument)
	_, err = h.api.UpsertAgent(li, &routingv1.UpsertAgentRequest{Agent: &routingv1.Agent{AgentId: "x"}})
	wantCode(t, err, codes.PermissionDenied)
	_, err = h.api.UpsertAgent(admin, &routingv1.UpsertAgentRequest{Agent: &routingv1.Agent{AgentId: "x", Tier: 9, Skills: []string{"nope"}}})
	wantCode(t, err, codes.InvalidArgument)
	if n := len(grpcerr.FieldViolations(err)); n != 3 {
		t.Errorf("want tier, skills[0] and capacity named, got %v", grpcerr.FieldViolations(err))
	}
	_, err = h.api.Claim(context.Background(), &routingv1.ClaimRequest{ComplaintId: first})
	wantCode(t, err, codes.Unauthenticated)

	// Transfer to a queue: counted, and the reactor places it there.
	h.agent("zhao", 2, 6, online, "refund")
	if _, err := h.api.Transfer(li, &routingv1.TransferRequest{ComplaintId: first, ToQueue: "refund", Reason: "退款问题转退款组"}); err != nil {
		t.Fatal(err)
	}
	if w := h.work(first); w.GetQueue() != "refund" || w.GetTransferCount() != 1 || w.GetOwner() != "zhao" {
		t.Errorf("after transfer: queue %s count %d owner %s", w.GetQueue(), w.GetTransferCount(), w.GetOwner())
	}
}

// Capacity bounds assignment; an agent offline past the grace period gives
// unstarted work back; one coming online takes waiting work.
func TestCapacityPresenceAndOfflineGrace(t *testing.T) {
	h := start(t)
	h.agent("li", 1, 1, online, "after_sales_online")
	a := h.file(filing{})
	b := h.file(filing{})
	// Complaints of one batch react concurrently: either takes li's one slot.
	if wa, wb := h.work(a), h.work(b); (wa.GetOwner() == "li") == (wb.GetOwner() == "li") || wa.GetOwner()+wb.GetOwner() != "li" {
		t.Fatalf("li (capacity 1) holds a=%q b=%q", wa.GetOwner(), wb.GetOwner())
	}
	if h.work(b).GetOwner() == "li" {
		a, b = b, a
	}
	q, err := h.api.ListQueue(supervisor, &routingv1.ListQueueRequest{Queue: "after_sales_online", UnassignedOnly: true})
	if err != nil || len(q.GetItems()) != 1 || q.GetItems()[0].GetComplaintId() != b {
		t.Fatalf("unassigned %v %v", q, err)
	}
	if st := q.GetStats(); st.GetDepth() != 2 || st.GetUnassigned() != 1 || st.GetAgentsOnline() != 1 {
		t.Errorf("stats %v", st)
	}

	// Away: li keeps a; offline: a is released only after the grace period.
	if _, err := h.api.SetPresence(as("li", auth.RoleAgent, 1), &routingv1.SetPresenceRequest{Presence: offline}); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(h.pol.Roster.OfflineGrace - time.Second)
	if n, err := h.svc.SweepOffline(context.Background()); err != nil || n != 0 {
		t.Fatalf("released %d within the grace period (%v)", n, err)
	}
	h.clk.Advance(time.Second)
	if n, err := h.svc.SweepOffline(context.Background()); err != nil || n != 1 {
		t.Fatalf("released %d after the grace period (%v)", n, err)
	}
	if w := h.work(a); w.GetOwner() != "" || w.GetPreviousOwner() != "li" {
		t.Fatalf("a after release: owner %q previous %q", w.GetOwner(), w.GetPreviousOwner())
	}
	// wang comes online and takes the most urgent waiting work up to capacity.
	h.agent("wang", 1, 1, online, "after_sales_online")
	h.settle()
	if wa, wb := h.work(a), h.work(b); (wa.GetOwner() == "wang") == (wb.GetOwner() == "wang") {
		t.Fatalf("wang (capacity 1) holds a=%q b=%q", wa.GetOwner(), wb.GetOwner())
	}
	if l := h.load("wang"); l != 1 {
		t.Errorf("wang's load %d", l)
	}
	// Started work is kept while offline.
	wang := as("wang", auth.RoleAgent, 1)
	held, _ := h.api.MyWork(wang, &routingv1.MyWorkRequest{})
	cid := held.GetItems()[0].GetComplaintId()
	if _, err := h.api.Respond(wang, &routingv1.RespondRequest{ComplaintId: cid}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.api.SetPresence(wang, &routingv1.SetPresenceRequest{Presence: offline}); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(time.Hour)
	h.settle()
	if n, _ := h.svc.SweepOffline(context.Background()); n != 0 {
		t.Errorf("started work released")
	}
}

// Sticky: a repeat contact stays with or goes back to its owner.
func TestRepeatContactIsSticky(t *testing.T) {
	h := start(t)
	h.agent("li", 1, 6, online, "after_sales_online")
	h.agent("wang", 1, 6, online, "after_sales_online")
	id := h.file(filing{})
	owner := h.work(id).GetOwner()
	otherAgent := map[string]string{"li": "wang", "wang": "li"}[owner]
	if _, err := h.api.Release(as(owner, auth.RoleAgent, 1), &routingv1.ReleaseRequest{ComplaintId: id, Reason: "换班"}); err != nil {
		t.Fatal(err)
	}
	if w := h.work(id); w.GetOwner() != otherAgent {
		t.Fatalf("released work went to %q, want %q", w.GetOwner(), otherAgent)
	}
	// The new owner goes away; the customer contacts again: back to the
	// queue with its history, and the first owner (online) takes it.
	if _, err := h.api.SetPresence(supervisor, &routingv1.SetPresenceRequest{AgentId: otherAgent, Presence: away}); err != nil {
		t.Fatal(err)
	}
	h.append(id, &complaintv1.ContactAdded{Channel: complaintv1.Channel_CHANNEL_HOTLINE_400, ContactNumber: 2})
	w := h.work(id)
	if w.GetOwner() != owner || w.GetContacts() != 2 || w.GetPreviousOwner() != otherAgent {
		t.Fatalf("after repeat contact: owner %q previous %q contacts %d", w.GetOwner(), w.GetPreviousOwner(), w.GetContacts())
	}
	// Escalation re-routes to the level's queue.
	h.agent("chen", 3, 4, online, "supervisor")
	h.append(id, &complaintv1.ComplaintEscalated{ToLevel: complaintv1.EscalationLevel_ESCALATION_LEVEL_SUPERVISOR, Queue: "supervisor", Reason: "首响超时"})
	if w := h.work(id); w.GetQueue() != "supervisor" || w.GetOwner() != "chen" || w.GetRule() != "escalation" {
		t.Fatalf("after escalation: %s %s %s", w.GetQueue(), w.GetOwner(), w.GetRule())
	}
	// Closed leaves the queues and frees the load.
	h.append(id, &complaintv1.ComplaintClosed{Reason: complaintv1.CloseReason_CLOSE_REASON_WITHDRAWN})
	if l := h.load("chen"); l != 0 {
		t.Errorf("chen's load %d after close", l)
	}
	q, _ := h.api.ListQueue(supervisor, &routingv1.ListQueueRequest{Queue: "supervisor"})
	if q.GetStats().GetDepth() != 0 {
		t.Errorf("closed complaint still in queue")
	}
}

// Concurrent claims of one complaint: exactly one wins.
func TestConcurrentClaimsExactlyOneWins(t *testing.T) {
	h := start(t)
	const n = 8
	for i := range n {
		h.agent(fmt.Sprintf("a%d", i), 1, 6, away, "after_sales_online") // away: claimable, not auto-assigned
	}
	id := h.file(filing{})
	h.settle()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.api.Claim(as(fmt.Sprintf("a%d", i), auth.RoleAgent, 1), &routingv1.ClaimRequest{ComplaintId: id})
		}()
	}
	wg.Wait()
	won := ""
	for i, err := range errs {
		switch code(err) {
		case codes.OK:
			if won != "" {
				t.Fatalf("two claims won: %s and a%d", won, i)
			}
			won = fmt.Sprintf("a%d", i)
		case codes.FailedPrecondition:
		default:
			t.Fatalf("claim a%d: %v", i, err)
		}
	}
	if w := h.work(id); won == "" || w.GetOwner() != won {
		t.Fatalf("winner %q, owner %q", won, w.GetOwner())
	}
}

// ListQueue: most severe, nearest deadline, oldest; pages add up; at-risk counted.
func TestListQueueOrderPagesAndStats(t *testing.T) {
	h := start(t)
	email := h.file(filing{channel: complaintv1.Channel_CHANNEL_EMAIL}) // first response within 12 h in battle
	h.clk.Advance(time.Minute)
	chatOld := h.file(filing{}) // chat: 2 h
	h.clk.Advance(time.Minute)
	chatNew := h.file(filing{})
	high := h.file(filing{channel: complaintv1.Channel_CHANNEL_EMAIL, severity: complaintv1.Severity_SEVERITY_HIGH})
	h.settle()
	want := []string{high, chatOld, chatNew, email}
	var got []string
	token := ""
	for {
		res, err := h.api.ListQueue(supervisor, &routingv1.ListQueueRequest{Queue: "after_sales_online", PageSize: 3, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if token == "" && res.GetStats().GetDepth() != 4 {
			t.Errorf("depth %d", res.GetStats().GetDepth())
		}
		for _, it := range res.GetItems() {
			got = append(got, it.GetComplaintId())
		}
		if token = res.GetNextPageToken(); token == "" {
			break
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order\n got %v\nwant %v", got, want)
	}
	// Chat's first-response warning is at 50% of 2 h.
	h.clk.Advance(61 * time.Minute)
	res, err := h.api.ListQueue(supervisor, &routingv1.ListQueueRequest{Queue: "after_sales_online"})
	if err != nil {
		t.Fatal(err)
	}
	if res.GetStats().GetAtRisk() != 2 || res.GetStats().GetOldestFiledAt().AsTime() != t0 {
		t.Errorf("stats %v", res.GetStats())
	}
	if !res.GetItems()[1].GetAtRisk() || res.GetItems()[3].GetAtRisk() {
		t.Errorf("at_risk flags wrong: %v", res.GetItems())
	}
	_, err = h.api.ListQueue(supervisor, &routingv1.ListQueueRequest{Queue: "after_sales_online", PageToken: "garbage"})
	wantCode(t, err, codes.InvalidArgument)
	ov, err := h.api.QueueOverview(supervisor, &routingv1.QueueOverviewRequest{})
	if err != nil || len(ov.GetQueues()) != len(h.pol.Queues) {
		t.Fatalf("overview %v %v", ov, err)
	}
}

// snapshot reads the projection's tables as text, row by row.
func snapshot(t *testing.T, h *harness) string {
	t.Helper()
	var out []string
	for _, q := range []string{`SELECT i::text FROM routing.items i ORDER BY complaint_id`, `SELECT l::text FROM routing.agent_load l WHERE open <> 0 ORDER BY agent_id`} {
		rows, err := h.db.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		rows.Close()
	}
	return fmt.Sprint(out)
}

// The rebuilt projection equals the live one, row for row.
func TestRebuildEqualsLive(t *testing.T) {
	h := start(t)
	h.agent("li", 1, 2, online, "after_sales_online", "refund")
	h.agent("chen", 3, 4, online, "supervisor", "pr")
	var ids []string
	for i := range 5 {
		ids = append(ids, h.file(filing{amount: int64(i) * 40_00}))
	}
	ids = append(ids, h.file(filing{severity: complaintv1.Severity_SEVERITY_MAJOR}))
	h.settle()
	li := as("li", auth.RoleAgent, 1)
	mine, _ := h.api.MyWork(li, &routingv1.MyWorkRequest{})
	for _, it := range mine.GetItems() {
		if _, err := h.api.Respond(li, &routingv1.RespondRequest{ComplaintId: it.GetComplaintId()}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.api.Resolve(li, &routingv1.ResolveRequest{ComplaintId: mine.GetItems()[0].GetComplaintId(),
		Outcome: complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_EXPLAINED, Retention: complaintv1.Retention_RETENTION_NOT_APPLICABLE}); err != nil {
		t.Fatal(err)
	}
	h.append(ids[5], &complaintv1.ComplaintClosed{})
	h.settle()
	live := snapshot(t, h)
	h.stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.runner.Rebuild(ctx, adapters.NewProjection(h.pol, nil, nil, nil)); err != nil {
		t.Fatal(err)
	}
	if rebuilt := snapshot(t, h); rebuilt != live {
		t.Fatalf("rebuilt projection differs:\nlive    %s\nrebuilt %s", live, rebuilt)
	}
}

// Room freed by a resolution goes to the next waiting complaint.
func TestFreedCapacityTakesWaitingWork(t *testing.T) {
	h := start(t)
	h.agent("li", 1, 1, online, "after_sales_online")
	a := h.file(filing{})
	h.settle()
	b := h.file(filing{})
	if h.work(a).GetOwner() != "li" || h.work(b).GetOwner() != "" {
		t.Fatal("li should hold a and b wait")
	}
	li := as("li", auth.RoleAgent, 1)
	if _, err := h.api.Resolve(li, &routingv1.ResolveRequest{ComplaintId: a, Outcome: complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_EXPLAINED}); err != nil {
		t.Fatal(err)
	}
	h.settle()
	if n, err := h.svc.FillWaiting(context.Background()); err != nil || n != 1 {
		t.Fatalf("filled %d (%v)", n, err)
	}
	if w := h.work(b); w.GetOwner() != "li" {
		t.Fatalf("b owner %q", w.GetOwner())
	}
	if n, _ := h.svc.FillWaiting(context.Background()); n != 0 {
		t.Errorf("li at capacity got more")
	}
}

// A redelivered event changes nothing: the stream already holds the reaction.
// A complaint is in its queue, with its agent, as soon as the batch that
// brought its classification commits: the projection folds its own routing
// and assignment into that batch instead of waiting for them to come round
// in the stream. When they do come round they change nothing: the agent's
// load counts the complaint once.
func TestRoutedAndAssignedWhenTheCauseCommits(t *testing.T) {
	h := start(t)
	h.agent("li", 1, 6, online, "after_sales_online")
	h.settle()
	h.stop() // this test applies the batch itself
	id := h.file(filing{})
	ctx := context.Background()
	recs, err := h.store.Load(ctx, id)
	if err != nil || len(recs) != 2 {
		t.Fatalf("filed %d events (%v)", len(recs), err)
	}
	h.applyBatch(recs)

	stored, err := h.store.Load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, r := range stored[len(recs):] {
		types = append(types, r.Type)
	}
	if fmt.Sprint(types) != "[ComplaintRouted ComplaintAssigned]" {
		t.Fatalf("reaction appended %v, want routed and assigned", types)
	}
	read := func() (*routingv1.WorkItem, int32) {
		t.Helper()
		w, err := h.api.GetWork(supervisor, &routingv1.GetWorkRequest{ComplaintId: id})
		if err != nil {
			t.Fatal(err)
		}
		ag, err := h.api.ListAgents(supervisor, &routingv1.ListAgentsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range ag.GetAgents() {
			if a.GetAgentId() == "li" {
				return w.GetItem(), a.GetLoad()
			}
		}
		t.Fatal("li is not on the roster")
		return nil, 0
	}
	item, load := read()
	if item.GetQueue() != "after_sales_online" || item.GetOwner() != "li" || load != 1 {
		t.Fatalf("after the cause's batch: queue %q owner %q load %d, want after_sales_online, li, 1", item.GetQueue(), item.GetOwner(), load)
	}
	list, err := h.api.ListQueue(supervisor, &routingv1.ListQueueRequest{Queue: "after_sales_online", ShopId: "demo-flagship"})
	if err != nil || len(list.GetItems()) != 1 || list.GetItems()[0].GetComplaintId() != id {
		t.Fatalf("the queue shows %v (%v), want the complaint", list.GetItems(), err)
	}

	// The runner now delivers all four events (its checkpoint never moved):
	// the two the batch folded from its own appends change nothing.
	h.restart()
	h.settle()
	item2, load2 := read()
	if item2.GetOwner() != "li" || load2 != 1 {
		t.Fatalf("after redelivery: owner %q load %d, want li, 1", item2.GetOwner(), load2)
	}
	after, err := h.store.Load(ctx, id)
	if err != nil || len(after) != len(stored) {
		t.Fatalf("redelivery appended again: %d events, want %d (%v)", len(after), len(stored), err)
	}
}

// A projection that lags the stream decides a reaction on what the stream
// holds after its own state (a short read), not on the state alone: the
// complaint was flagged major after its classification, the batch holds
// only the classification, and the routing appended follows the flag (it
// was decided on it). Once, however often it comes round, and the queue
// shows what the stream says.
func TestReactionOnAComplaintThatMovedOnReadsItsTail(t *testing.T) {
	h := start(t)
	h.agent("li", 3, 6, online, "after_sales_online", "supervisor", "pr")
	h.settle()
	h.stop()
	id := h.file(filing{})
	ctx := context.Background()
	batch, err := h.store.Load(ctx, id)
	if err != nil || len(batch) != 2 {
		t.Fatalf("filed %d events (%v)", len(batch), err)
	}
	h.append(id, &complaintv1.RiskFlagged{Severity: complaintv1.Severity_SEVERITY_MAJOR, Signal: &complaintv1.RiskSignal{Code: "media_exposure"}})
	reader := sdkmetric.NewManualReader()
	if err := h.proj.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))); err != nil {
		t.Fatal(err)
	}
	h.applyBatch(batch)
	// Decided on the batch's state, moved on, decided on the tail: no whole
	// history was read.
	if got := reactionCounts(t, reader); got != "state/moved_on=1 tail/appended=1" {
		t.Fatalf("reactions %s, want state/moved_on=1 tail/appended=1", got)
	}
	stored, err := h.store.Load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, r := range stored {
		types = append(types, r.Type)
	}
	if fmt.Sprint(types) != "[ComplaintFiled ComplaintClassified RiskFlagged ComplaintRouted ComplaintAssigned]" {
		t.Fatalf("stream %v: the reaction must follow the flag", types)
	}
	h.restart()
	h.settle()
	full := domain.Fold(nil, nil)
	for _, r := range stored {
		ev, err := events.Decode(r)
		if err != nil {
			t.Fatal(err)
		}
		full.Evolve(ev, r.StreamSeq)
	}
	item := h.work(id)
	if item.GetQueue() != full.Queue || item.GetPriority() != int32(full.Priority) || item.GetOwner() != "li" || h.load("li") != 1 {
		t.Fatalf("item %v, want queue %s priority %d with li (load %d)", item, full.Queue, full.Priority, h.load("li"))
	}
	after, err := h.store.Load(ctx, id)
	if err != nil || len(after) != len(stored) {
		t.Fatalf("came round and appended again: %d events, want %d (%v)", len(after), len(stored), err)
	}
}

func TestReactionIsIdempotentUnderRedelivery(t *testing.T) {
	h := start(t)
	h.agent("li", 1, 6, online, "after_sales_online")
	id := h.file(filing{})
	h.settle()
	recs, err := h.store.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := h.roster.Pool(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		ev, err := events.Decode(r)
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := h.svc.React(context.Background(), ev, pool)
		if err != nil || len(out) != 0 {
			t.Fatalf("redelivered %s decided %v (%v)", r.Type, out, err)
		}
	}
	// The same, deciding first on the projection's state as it stood at
	// each event (a batch redelivered after a crash between the reaction's
	// append and the checkpoint's commit): the append expecting that state's
	// sequence conflicts, and the full decision finds the reaction stored.
	var evs []*complaintv1.Event
	var seqs []uint64
	for _, r := range recs {
		ev, err := events.Decode(r)
		if err != nil {
			t.Fatal(err)
		}
		before := domain.Fold(evs, seqs).Status
		evs, seqs = append(evs, ev), append(seqs, r.StreamSeq)
		out, _, err := h.svc.ReactOn(context.Background(), ev, domain.Fold(evs, seqs), before, pool)
		if err != nil || len(out) != 0 {
			t.Fatalf("redelivered %s on the state as of it decided %v (%v)", r.Type, out, err)
		}
	}
	after, _ := h.store.Load(context.Background(), id)
	if len(after) != len(recs) {
		t.Fatalf("stream grew from %d to %d events", len(recs), len(after))
	}
}

// reactionCounts reads kesu.routing.reactions as "path/result=n …", sorted.
func reactionCounts(t *testing.T, reader *sdkmetric.ManualReader) string {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if d, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "kesu.routing.reactions" {
				for _, p := range d.DataPoints {
					path, _ := p.Attributes.Value("path")
					result, _ := p.Attributes.Value("result")
					out = append(out, fmt.Sprintf("%s/%s=%d", path.AsString(), result.AsString(), p.Value))
				}
			}
		}
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// applyBatch applies recs as the projection runner applies a batch, in one
// transaction it then commits, with the runner stopped: as a projection
// lagging the stream by exactly these events would.
func (h *harness) applyBatch(recs []eventstore.Record) {
	h.t.Helper()
	ctx := context.Background()
	tx, err := h.db.Begin(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := h.proj.Apply(ctx, tx, recs); err != nil {
		h.t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		h.t.Fatal(err)
	}
	h.proj.Committed()
}
