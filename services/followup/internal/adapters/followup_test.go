package adapters_test

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
	"github.com/kesu315/kesu/services/followup/internal/adapters"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/grpcerr"
)

var shanghai = time.FixedZone("CST", 8*3600)

// battle is a moment in the 2027 season's battle phase.
var battle = time.Date(2027, 3, 15, 10, 0, 0, 0, shanghai)

func (r *rig) followUp(id string) *followupv1.FollowUp {
	r.t.Helper()
	res, err := r.api.GetFollowUp(r.as(auth.RoleAgent, "agent-1"), &followupv1.GetFollowUpRequest{ComplaintId: id})
	if err != nil {
		r.t.Fatal(err)
	}
	return res.GetFollowUp()
}

func TestScheduleOnResolutionOnceAndQueueOrder(t *testing.T) {
	r := newRig(t, battle)
	normal := r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "agent-1", true)
	r.clock.Advance(time.Hour)
	major := r.complaint(complaintv1.Severity_SEVERITY_MAJOR, "agent-2", true)
	open := r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "agent-3", false)
	r.settle()

	if n := r.count(normal, "FollowUpScheduled"); n != 1 {
		t.Fatalf("normal: %d FollowUpScheduled", n)
	}
	s := r.last(normal, "FollowUpScheduled").GetFollowUpScheduled()
	if got := s.GetDueAt().AsTime(); !got.Equal(battle.Add(24 * time.Hour)) {
		t.Errorf("normal due %s, want 24h after resolution", got)
	}
	if got := r.last(major, "FollowUpScheduled").GetFollowUpScheduled().GetDueAt().AsTime(); !got.Equal(battle.Add(time.Hour)) {
		t.Errorf("major due %s, want at once", got)
	}
	if n := r.count(open, "FollowUpScheduled"); n != 0 {
		t.Errorf("open complaint scheduled")
	}
	// A crash after the append but before the timer's delete fires it again:
	// nothing is scheduled twice.
	r.refire(normal, adapters.TimerSchedule, r.last(normal, "ComplaintResolved").GetEventId())
	r.settle()
	if n := r.count(normal, "FollowUpScheduled"); n != 1 {
		t.Fatalf("after refire: %d FollowUpScheduled", n)
	}

	q, err := r.api.FollowUpQueue(r.as(auth.RoleAgent, "agent-9"), &followupv1.FollowUpQueueRequest{ShopId: shop})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range q.GetFollowUps() {
		ids = append(ids, f.GetComplaintId())
	}
	if !slices.Equal(ids, []string{major, normal}) {
		t.Fatalf("queue %v, want major then normal", ids)
	}
	// Paging: one at a time gives the same order.
	p1, err := r.api.FollowUpQueue(r.as(auth.RoleAgent, "agent-9"), &followupv1.FollowUpQueueRequest{ShopId: shop, PageSize: 1})
	if err != nil || len(p1.GetFollowUps()) != 1 || p1.GetNextPageToken() == "" {
		t.Fatalf("page 1: %v %v", p1, err)
	}
	p2, err := r.api.FollowUpQueue(r.as(auth.RoleAgent, "agent-9"), &followupv1.FollowUpQueueRequest{ShopId: shop, PageSize: 1, PageToken: p1.GetNextPageToken()})
	if err != nil || len(p2.GetFollowUps()) != 1 || p2.GetFollowUps()[0].GetComplaintId() != normal {
		t.Fatalf("page 2: %v %v", p2, err)
	}
	due, err := r.api.FollowUpQueue(r.as(auth.RoleAgent, "agent-9"), &followupv1.FollowUpQueueRequest{ShopId: shop, DueBefore: q.GetFollowUps()[0].GetDueAt()})
	if err != nil || len(due.GetFollowUps()) != 1 {
		t.Fatalf("due before: %v %v", due, err)
	}
}

func TestRetriesThenNoAnswerClosesExactlyOnce(t *testing.T) {
	r := newRig(t, battle)
	id := r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "agent-1", true)
	r.settle()
	fid := r.followUp(id).GetFollowUpId()
	agent := r.as(auth.RoleAgent, "caller-1")
	for n := 1; n <= 3; n++ {
		res, err := r.api.RecordAttempt(agent, &followupv1.RecordAttemptRequest{ComplaintId: id, FollowUpId: fid, Attempt: int32(n),
			Outcome: complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_NO_ANSWER})
		if err != nil {
			t.Fatalf("attempt %d: %v", n, err)
		}
		want := followupv1.Outcome_OUTCOME_RETRY_PLANNED
		if n == 3 {
			want = followupv1.Outcome_OUTCOME_CLOSE_PENDING
		}
		if res.GetOutcome() != want {
			t.Fatalf("attempt %d: outcome %v", n, res.GetOutcome())
		}
		r.settle()
		if n < 3 {
			f := r.followUp(id)
			if !f.GetNextAttemptAt().AsTime().Equal(res.GetNextAttemptAt().AsTime()) || f.GetAttempts() != int32(n) {
				t.Fatalf("after attempt %d: %v", n, f)
			}
			r.clock.Set(res.GetNextAttemptAt().AsTime())
		}
	}
	// A retried request for attempt 3 records nothing new.
	if res, err := r.api.RecordAttempt(agent, &followupv1.RecordAttemptRequest{ComplaintId: id, FollowUpId: fid, Attempt: 3,
		Outcome: complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_NO_ANSWER}); err != nil || res.GetOutcome() != followupv1.Outcome_OUTCOME_RECORDED {
		t.Fatalf("retried request: %v %v", res, err)
	}
	if n := r.count(id, "FollowUpAttempted"); n != 3 {
		t.Fatalf("%d attempts recorded", n)
	}
	_, err := r.api.RecordAttempt(agent, &followupv1.RecordAttemptRequest{ComplaintId: id, FollowUpId: fid,
		Outcome: complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_NO_ANSWER})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("a fourth attempt: %v", err)
	}
	if r.count(id, "ComplaintClosed") != 0 || r.pending() != 1 {
		t.Fatalf("closed before the grace ran out (pending timers %d)", r.pending())
	}
	if f := r.followUp(id); f.GetState() != followupv1.FollowUpState_FOLLOW_UP_STATE_EXHAUSTED {
		t.Fatalf("state %v", f.GetState())
	}
	closeAt := r.last(id, "FollowUpAttempted").GetFollowUpAttempted().GetCloseAt().AsTime()
	r.clock.Set(closeAt)
	// Two pollers (two replicas) race for the timer.
	done := make(chan error, 2)
	for range 2 {
		go func() { _, err := r.poller.RunOnce(r.ctx); done <- err }()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	r.settle()
	r.refire(id, adapters.TimerCloseNoAnswer, fid)
	r.settle()
	if n := r.count(id, "ComplaintClosed"); n != 1 {
		t.Fatalf("%d ComplaintClosed, want exactly 1", n)
	}
	if c := r.last(id, "ComplaintClosed").GetComplaintClosed(); c.GetReason() != complaintv1.CloseReason_CLOSE_REASON_NO_ANSWER {
		t.Fatalf("closed %v", c)
	}
	if f := r.followUp(id); f.GetStatus() != followupv1.ComplaintStatus_COMPLAINT_STATUS_CLOSED {
		t.Fatalf("status %v", f.GetStatus())
	}
}

func TestOutcomesThroughTheAPI(t *testing.T) {
	r := newRig(t, battle)
	reached := complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_REACHED
	cases := []struct {
		name    string
		outcome complaintv1.FollowUpOutcome
		answer  *followupv1.Answer
		want    followupv1.ComplaintStatus
		event   string
	}{
		{"satisfied", reached, &followupv1.Answer{Score: 5, Comment: "谢谢，处理得很好"}, followupv1.ComplaintStatus_COMPLAINT_STATUS_CLOSED, "ComplaintClosed"},
		{"neutral", reached, &followupv1.Answer{Satisfaction: complaintv1.Satisfaction_SATISFACTION_NEUTRAL}, followupv1.ComplaintStatus_COMPLAINT_STATUS_CLOSED, "ComplaintClosed"},
		{"dissatisfied", reached, &followupv1.Answer{Score: 1, Comment: "还是没解决"}, followupv1.ComplaintStatus_COMPLAINT_STATUS_OPEN, "ComplaintReopened"},
		{"refused", complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_REFUSED, nil, followupv1.ComplaintStatus_COMPLAINT_STATUS_CLOSED, "ComplaintClosed"},
	}
	ids := make([]string, len(cases))
	for i := range cases {
		ids[i] = r.complaint(complaintv1.Severity_SEVERITY_HIGH, "owner-1", true)
	}
	r.settle()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fid := r.followUp(ids[i]).GetFollowUpId()
			_, err := r.api.RecordAttempt(r.as(auth.RoleAgent, "caller-1"), &followupv1.RecordAttemptRequest{ComplaintId: ids[i],
				FollowUpId: fid, Outcome: tc.outcome, Answer: tc.answer})
			if err != nil {
				t.Fatal(err)
			}
			r.settle()
			if got := r.followUp(ids[i]).GetStatus(); got != tc.want {
				t.Errorf("status %v, want %v", got, tc.want)
			}
			if r.count(ids[i], tc.event) != 1 {
				t.Errorf("no %s", tc.event)
			}
		})
	}
	// The dissatisfied one is back with its owner, the reason says why.
	re := r.last(ids[2], "ComplaintReopened").GetComplaintReopened()
	if re.GetVia() != complaintv1.ReopenVia_REOPEN_VIA_DISSATISFIED_FOLLOW_UP || re.GetPreviousOwner() != "owner-1" || re.GetReason() == "" {
		t.Fatalf("reopened %v", re)
	}
	// The comment is sealed in the event, never in the clear.
	sr := r.last(ids[0], "SatisfactionRecorded").GetSatisfactionRecorded()
	if sr.GetPersonal() == nil || len(sr.GetPersonal().GetCiphertext()) == 0 {
		t.Fatalf("comment not sealed: %v", sr)
	}
}

func TestReopenViaNewContactIdempotent(t *testing.T) {
	r := newRig(t, battle)
	resolvedID := r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "agent-1", true)
	closedID := r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "agent-2", true)
	openID := r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "agent-3", false)
	r.settle()
	if _, err := r.api.Close(r.as(auth.RoleSupervisor, "sup-1"), &followupv1.CloseRequest{ComplaintId: closedID, Note: "客户电话确认已解决"}); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(2 * 24 * time.Hour)
	for _, id := range []string{resolvedID, closedID, openID} {
		r.append(id, &complaintv1.ContactAdded{Channel: complaintv1.Channel_CHANNEL_HOTLINE_400, ContactNumber: 2, Folded: true})
	}
	r.settle()
	for _, id := range []string{resolvedID, closedID} {
		if n := r.count(id, "ComplaintReopened"); n != 1 {
			t.Fatalf("%s: %d reopens", id, n)
		}
		re := r.last(id, "ComplaintReopened")
		if re.GetComplaintReopened().GetVia() != complaintv1.ReopenVia_REOPEN_VIA_NEW_CONTACT ||
			re.GetCausationId() != r.last(id, "ContactAdded").GetEventId() {
			t.Fatalf("reopen %v", re)
		}
		// Redelivery of the reaction changes nothing.
		r.refire(id, adapters.TimerReopenContact, re.GetCausationId())
	}
	r.settle()
	for _, id := range []string{resolvedID, closedID} {
		if n := r.count(id, "ComplaintReopened"); n != 1 {
			t.Fatalf("%s after redelivery: %d reopens", id, n)
		}
		if f := r.followUp(id); f.GetStatus() != followupv1.ComplaintStatus_COMPLAINT_STATUS_OPEN || f.GetReopenCount() != 1 {
			t.Fatalf("view %v", f)
		}
	}
	if r.count(openID, "ComplaintReopened") != 0 {
		t.Fatal("a contact on an open complaint reopened it")
	}
	// Resolved again: a new follow-up, not the old one.
	old := r.last(resolvedID, "FollowUpScheduled").GetFollowUpScheduled().GetFollowUpId()
	r.append(resolvedID, &complaintv1.ComplaintResolved{ResolvedBy: "agent-1"})
	r.settle()
	if n := r.count(resolvedID, "FollowUpScheduled"); n != 2 || r.followUp(resolvedID).GetFollowUpId() == old {
		t.Fatalf("%d follow-ups after the second resolution", n)
	}
}

func TestAPIErrors(t *testing.T) {
	r := newRig(t, battle)
	id := r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "agent-1", false)
	r.settle()
	agent := r.as(auth.RoleAgent, "a")
	_, err := r.api.RecordAttempt(agent, &followupv1.RecordAttemptRequest{ComplaintId: id})
	if fv := grpcerr.FieldViolations(err); status.Code(err) != codes.InvalidArgument || len(fv) != 2 || fv[0].Field != "follow_up_id" || fv[1].Field != "outcome" {
		t.Fatalf("invalid attempt: %v %v", err, fv)
	}
	_, err = r.api.RecordAttempt(agent, &followupv1.RecordAttemptRequest{ComplaintId: id, FollowUpId: "f", Outcome: complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_NO_ANSWER})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("no follow-up: %v", err)
	}
	_, err = r.api.RecordSatisfaction(r.as(auth.RoleIntegration, "tmall"), &followupv1.RecordSatisfactionRequest{ComplaintId: id,
		Survey: &complaintv1.ExternalRef{Source: "tmall", ExternalId: "S1"}, Answer: &followupv1.Answer{Score: 9}})
	if fv := grpcerr.FieldViolations(err); status.Code(err) != codes.InvalidArgument || len(fv) != 1 || fv[0].Field != "answer.score" {
		t.Fatalf("bad score: %v", err)
	}
	_, err = r.api.RecordSatisfaction(r.as(auth.RoleIntegration, "tmall"), &followupv1.RecordSatisfactionRequest{ComplaintId: id,
		Survey: &complaintv1.ExternalRef{Source: "tmall", ExternalId: "S1"}, Answer: &followupv1.Answer{Score: 2}})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("survey on an open complaint: %v", err)
	}
	_, err = r.api.GetFollowUp(agent, &followupv1.GetFollowUpRequest{ComplaintId: "0190a5a0-0000-7000-8000-000000000000"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("missing: %v", err)
	}
	_, err = r.api.Close(agent, &followupv1.CloseRequest{ComplaintId: id, Note: "x"})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("agent closing: %v", err)
	}
	_, err = r.api.Close(r.as(auth.RoleSupervisor, "s"), &followupv1.CloseRequest{ComplaintId: id, Note: "x"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("closing an open complaint: %v", err)
	}
	_, err = r.api.Reopen(r.as(auth.RoleSupervisor, "s"), &followupv1.ReopenRequest{ComplaintId: id})
	if fv := grpcerr.FieldViolations(err); status.Code(err) != codes.InvalidArgument || len(fv) != 1 || fv[0].Field != "reason" {
		t.Fatalf("reopen without reason: %v", err)
	}
	_, err = r.api.Sweep(r.as(auth.RoleSupervisor, "s"), &followupv1.SweepRequest{ShopId: "nope", Season: 2027})
	if fv := grpcerr.FieldViolations(err); status.Code(err) != codes.InvalidArgument || fv[0].Field != "shop_id" {
		t.Fatalf("unknown shop: %v", err)
	}
	_, err = r.api.Sweep(r.as(auth.RoleSupervisor, "s"), &followupv1.SweepRequest{ShopId: shop, Season: 1999})
	if fv := grpcerr.FieldViolations(err); status.Code(err) != codes.InvalidArgument || fv[0].Field != "season" {
		t.Fatalf("unknown season: %v", err)
	}
	scoped := auth.WithIdentity(r.ctx, auth.Identity{Subject: "x", Role: auth.RoleAgent, Tier: 1, Shops: []string{"demo-outlet"}})
	if _, err := r.api.GetFollowUp(scoped, &followupv1.GetFollowUpRequest{ComplaintId: id}); status.Code(err) != codes.NotFound {
		t.Fatalf("other shop's complaint: %v", err)
	}
}
