package domain

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/policy"
)

var (
	t0    = time.Date(2027, 3, 12, 10, 0, 0, 0, time.UTC)
	rules = policy.FollowUp{
		Delay: 24 * time.Hour, ImmediateMinSeverity: "major", RetryAfter: []time.Duration{4 * time.Hour, 24 * time.Hour},
		MaxAttempts: 3, ReopenWindow: 7 * 24 * time.Hour, ReopenOnDissatisfied: true,
		Satisfaction: policy.Satisfaction{Scale: 5, SatisfiedMin: 4, DissatisfiedMax: 2}, Queue: "followup",
	}
)

// history builds a complaint's events; each payload happens an hour after the last.
type history struct {
	evs []Event
	at  time.Time
}

func (h *history) add(t *testing.T, p proto.Message) *complaintv1.Event {
	t.Helper()
	if h.at.IsZero() {
		h.at = t0
	}
	h.at = h.at.Add(time.Hour)
	ev, err := events.New(events.Envelope{ComplaintID: "c1", ShopID: "shop", RecordedAt: h.at}, p)
	if err != nil {
		t.Fatal(err)
	}
	h.evs = append(h.evs, Event{Seq: uint64(len(h.evs) + 1), Ev: ev})
	return ev
}

func (h *history) apply(t *testing.T, outs []Out) {
	t.Helper()
	for _, o := range outs {
		ev := h.add(t, o.Payload)
		ev.CausationId = o.Causation
	}
}

func resolved(t *testing.T, sev complaintv1.Severity) *history {
	h := &history{}
	h.add(t, &complaintv1.ComplaintFiled{CustomerRef: "cust", ExpectedRemedies: []complaintv1.RemedyKind{complaintv1.RemedyKind_REMEDY_KIND_REFUND}})
	h.add(t, &complaintv1.ComplaintClassified{Severity: sev, Category: "quality"})
	h.add(t, &complaintv1.ComplaintAssigned{AgentId: "agent-7"})
	h.add(t, &complaintv1.ComplaintResolved{ResolvedBy: "agent-7", Retention: complaintv1.Retention_RETENTION_KEPT})
	return h
}

func scheduledHistory(t *testing.T) (*history, string) {
	h := resolved(t, complaintv1.Severity_SEVERITY_NORMAL)
	outs := DecideSchedule(Fold(h.evs), rules, "")
	h.apply(t, outs)
	return h, outs[0].Payload.(*complaintv1.FollowUpScheduled).GetFollowUpId()
}

func TestSchedulingRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		sev  complaintv1.Severity
		want time.Duration
	}{
		{"normal waits the delay", complaintv1.Severity_SEVERITY_NORMAL, 24 * time.Hour},
		{"high waits the delay", complaintv1.Severity_SEVERITY_HIGH, 24 * time.Hour},
		{"major at once", complaintv1.Severity_SEVERITY_MAJOR, 0},
		{"crisis at once", complaintv1.Severity_SEVERITY_CRISIS, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := resolved(t, tc.sev)
			c := Fold(h.evs)
			outs := DecideSchedule(c, rules, "")
			if len(outs) != 1 {
				t.Fatalf("got %d events, want 1", len(outs))
			}
			s := outs[0].Payload.(*complaintv1.FollowUpScheduled)
			if got := s.GetDueAt().AsTime().Sub(c.ResolvedAt); got != tc.want {
				t.Errorf("due %s after resolution, want %s", got, tc.want)
			}
			if s.GetQueue() != "followup" || s.GetMaxAttempts() != 3 || s.GetFollowUpId() != FollowUpID(c.ResolutionID) {
				t.Errorf("scheduled = %v", s)
			}
			h.apply(t, outs)
			if again := DecideSchedule(Fold(h.evs), rules, ""); len(again) != 0 {
				t.Errorf("scheduled twice: %v", again)
			}
			if got := Fold(h.evs).QueueDue(); !got.Equal(s.GetDueAt().AsTime()) {
				t.Errorf("queue due %s, want %s", got, s.GetDueAt().AsTime())
			}
		})
	}
	t.Run("open complaint is not scheduled", func(t *testing.T) {
		h := &history{}
		h.add(t, &complaintv1.ComplaintFiled{})
		if outs := DecideSchedule(Fold(h.evs), rules, ""); outs != nil {
			t.Errorf("got %v", outs)
		}
	})
	t.Run("a new resolution after a reopen gets its own follow-up", func(t *testing.T) {
		h, fid := scheduledHistory(t)
		h.add(t, &complaintv1.ComplaintReopened{Via: complaintv1.ReopenVia_REOPEN_VIA_MANUAL})
		if outs := DecideSchedule(Fold(h.evs), rules, ""); outs != nil {
			t.Fatalf("scheduled while open: %v", outs)
		}
		h.add(t, &complaintv1.ComplaintResolved{})
		outs := DecideSchedule(Fold(h.evs), rules, "")
		if len(outs) != 1 || outs[0].Payload.(*complaintv1.FollowUpScheduled).GetFollowUpId() == fid {
			t.Fatalf("got %v", outs)
		}
	})
}

func attempt(fid string, n int, o complaintv1.FollowUpOutcome) *Attempt {
	return &Attempt{FollowUpID: fid, Attempt: n, Outcome: o}
}

func TestRetriesThenCloseOnce(t *testing.T) {
	h, fid := scheduledHistory(t)
	now := t0.Add(48 * time.Hour)
	wantNext := []time.Duration{4 * time.Hour, 24 * time.Hour}
	for n := 1; n <= 3; n++ {
		outs, res, err := DecideAttempt(Fold(h.evs), attempt(fid, n, complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_NO_ANSWER), rules, now)
		if err != nil {
			t.Fatalf("attempt %d: %v", n, err)
		}
		a := outs[0].Payload.(*complaintv1.FollowUpAttempted)
		if n < 3 {
			if res.Outcome != followupv1.Outcome_OUTCOME_RETRY_PLANNED || !res.NextAttemptAt.Equal(now.Add(wantNext[n-1])) {
				t.Fatalf("attempt %d: %+v", n, res)
			}
		} else if res.Outcome != followupv1.Outcome_OUTCOME_CLOSE_PENDING || a.GetCloseAt() == nil || a.GetNextAttemptAt() != nil {
			t.Fatalf("last attempt: %+v %v", res, a)
		}
		h.apply(t, outs)
	}
	c := Fold(h.evs)
	if c.Current.State != FUExhausted || c.Stage() != "follow_up_exhausted" {
		t.Fatalf("state %v stage %s", c.Current.State, c.Stage())
	}
	if _, _, err := DecideAttempt(c, attempt(fid, 4, complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_NO_ANSWER), rules, now); !errors.Is(err, ErrFollowUpEnded) {
		t.Fatalf("a fourth attempt: %v", err)
	}
	if outs := DecideCloseNoAnswer(c, fid, now); outs != nil {
		t.Fatalf("closed before the grace ran out: %v", outs)
	}
	closeAt := c.Current.CloseAt
	outs := DecideCloseNoAnswer(c, fid, closeAt)
	if len(outs) != 1 || outs[0].Payload.(*complaintv1.ComplaintClosed).GetReason() != complaintv1.CloseReason_CLOSE_REASON_NO_ANSWER {
		t.Fatalf("got %v", outs)
	}
	h.apply(t, outs)
	if again := DecideCloseNoAnswer(Fold(h.evs), fid, closeAt.Add(time.Hour)); again != nil {
		t.Fatalf("closed twice: %v", again)
	}
}

func TestAttemptIdempotentAndStale(t *testing.T) {
	h, fid := scheduledHistory(t)
	outs, _, err := DecideAttempt(Fold(h.evs), attempt(fid, 1, complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_NO_ANSWER), rules, t0)
	if err != nil {
		t.Fatal(err)
	}
	h.apply(t, outs)
	outs, res, err := DecideAttempt(Fold(h.evs), attempt(fid, 1, complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_NO_ANSWER), rules, t0)
	if err != nil || outs != nil || res.Outcome != followupv1.Outcome_OUTCOME_RECORDED {
		t.Fatalf("repeat: %v %v %v", outs, res, err)
	}
	// The same number with another outcome is a caller behind the times: refused,
	// not answered "recorded", so the reached call is not lost.
	if _, _, err := DecideAttempt(Fold(h.evs), attempt(fid, 1, complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_REACHED), rules, t0); !errors.Is(err, ErrStaleAttempt) {
		t.Fatalf("stale number, other outcome: %v", err)
	}
	if _, _, err := DecideAttempt(Fold(h.evs), attempt(fid, 3, complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_NO_ANSWER), rules, t0); !errors.Is(err, ErrStaleAttempt) {
		t.Fatalf("skipped number: %v", err)
	}
	if _, _, err := DecideAttempt(Fold(h.evs), attempt("other", 0, complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_NO_ANSWER), rules, t0); !errors.Is(err, ErrNotCurrent) {
		t.Fatalf("other follow-up: %v", err)
	}
}

func TestOutcomePaths(t *testing.T) {
	reached := complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_REACHED
	for _, tc := range []struct {
		name       string
		outcome    complaintv1.FollowUpOutcome
		answer     *Answer
		want       followupv1.Outcome
		wantStatus Status
		wantLast   proto.Message
	}{
		{"satisfied closes", reached, &Answer{Score: 5}, followupv1.Outcome_OUTCOME_CLOSED, StatusClosed,
			&complaintv1.ComplaintClosed{Reason: complaintv1.CloseReason_CLOSE_REASON_SATISFIED}},
		{"neutral closes", reached, &Answer{Score: 3}, followupv1.Outcome_OUTCOME_CLOSED, StatusClosed,
			&complaintv1.ComplaintClosed{Reason: complaintv1.CloseReason_CLOSE_REASON_NEUTRAL}},
		{"dissatisfied reopens to its owner", reached, &Answer{Satisfaction: complaintv1.Satisfaction_SATISFACTION_DISSATISFIED, Score: 1},
			followupv1.Outcome_OUTCOME_REOPENED, StatusOpen,
			&complaintv1.ComplaintReopened{Via: complaintv1.ReopenVia_REOPEN_VIA_DISSATISFIED_FOLLOW_UP, Reason: "回访不满意 / dissatisfied at follow-up (1/5)", PreviousOwner: "agent-7"}},
		{"reached without answer waits", reached, nil, followupv1.Outcome_OUTCOME_AWAITING_ANSWER, StatusResolved,
			&complaintv1.FollowUpAttempted{Attempt: 1, Outcome: reached}},
		{"refused closes", complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_REFUSED, nil, followupv1.Outcome_OUTCOME_CLOSED, StatusClosed,
			&complaintv1.ComplaintClosed{Reason: complaintv1.CloseReason_CLOSE_REASON_REFUSED, Note: "客户拒绝回访 / the customer refused the follow-up"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, fid := scheduledHistory(t)
			cmd := &Attempt{FollowUpID: fid, Outcome: tc.outcome, Answer: tc.answer}
			if err := cmd.Validate(rules.Satisfaction); err != nil {
				t.Fatal(err)
			}
			outs, res, err := DecideAttempt(Fold(h.evs), cmd, rules, t0)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tc.want {
				t.Errorf("outcome %v, want %v", res.Outcome, tc.want)
			}
			last := outs[len(outs)-1].Payload
			if a, ok := last.(*complaintv1.FollowUpAttempted); ok {
				a.FollowUpId = ""
			}
			if !proto.Equal(last, tc.wantLast) {
				t.Errorf("last event %v, want %v", last, tc.wantLast)
			}
			h.apply(t, outs)
			if got := Fold(h.evs).Status; got != tc.wantStatus {
				t.Errorf("status %v, want %v", got, tc.wantStatus)
			}
		})
	}
}

func TestDissatisfiedWithoutReopenPolicyStaysResolved(t *testing.T) {
	h, fid := scheduledHistory(t)
	r := rules
	r.ReopenOnDissatisfied = false
	outs, res, err := DecideAttempt(Fold(h.evs), &Attempt{FollowUpID: fid, Outcome: complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_REACHED, Answer: &Answer{Score: 1}}, r, t0)
	if err != nil || len(outs) != 2 || res.Outcome != followupv1.Outcome_OUTCOME_RECORDED {
		t.Fatalf("%v %v %v", outs, res, err)
	}
	h.apply(t, outs)
	if c := Fold(h.evs); c.Status != StatusResolved || c.Stage() != "follow_up_done_not_closed" {
		t.Fatalf("status %v stage %s", c.Status, c.Stage())
	}
}

func survey(id string, a *Answer) *Satisfaction {
	return &Satisfaction{Survey: &complaintv1.ExternalRef{Source: "tmall", ExternalId: id}, Answer: a, Channel: complaintv1.Channel_CHANNEL_ONLINE_CHAT}
}

func TestSurveyIdempotency(t *testing.T) {
	h, fid := scheduledHistory(t)
	cmd := survey("S-1", &Answer{Score: 5, Retention: complaintv1.Retention_RETENTION_RETURNED})
	outs, res, err := DecideSatisfaction(Fold(h.evs), cmd, rules, t0)
	if err != nil || !res.Created || res.Outcome != followupv1.Outcome_OUTCOME_CLOSED {
		t.Fatalf("%v %v", res, err)
	}
	if got := outs[0].Payload.(*complaintv1.SatisfactionRecorded).GetFollowUpId(); got != fid {
		t.Errorf("follow-up %s, want %s", got, fid)
	}
	h.apply(t, outs)
	if c := Fold(h.evs); c.Retention != complaintv1.Retention_RETENTION_RETURNED {
		t.Errorf("retention %v", c.Retention)
	}
	outs, res, err = DecideSatisfaction(Fold(h.evs), cmd, rules, t0)
	if err != nil || outs != nil || res.Created {
		t.Fatalf("repeat: %v %v %v", outs, res, err)
	}
	if _, _, err := DecideSatisfaction(Fold(h.evs), survey("S-1", &Answer{Score: 1}), rules, t0); !errors.Is(err, ErrSurveyReused) {
		t.Fatalf("reused id: %v", err)
	}
}

func TestSurveyBeforeScheduleSchedulesFirst(t *testing.T) {
	h := resolved(t, complaintv1.Severity_SEVERITY_NORMAL)
	outs, res, err := DecideSatisfaction(Fold(h.evs), survey("S-2", &Answer{Satisfaction: complaintv1.Satisfaction_SATISFACTION_SATISFIED}), rules, t0)
	if err != nil || len(outs) != 3 || res.Outcome != followupv1.Outcome_OUTCOME_CLOSED {
		t.Fatalf("%v %v %v", outs, res, err)
	}
	h.apply(t, outs)
	if again := DecideSchedule(Fold(h.evs), rules, ""); again != nil {
		t.Fatalf("scheduled a second follow-up: %v", again)
	}
}

func TestSurveyOnOpenAndClosed(t *testing.T) {
	h := &history{}
	h.add(t, &complaintv1.ComplaintFiled{})
	if _, _, err := DecideSatisfaction(Fold(h.evs), survey("S-3", &Answer{Score: 1}), rules, t0); !errors.Is(err, ErrNotResolved) {
		t.Fatalf("open: %v", err)
	}
	h2, fid := scheduledHistory(t)
	h2.add(t, &complaintv1.ComplaintClosed{Reason: complaintv1.CloseReason_CLOSE_REASON_SATISFIED})
	closedAt := h2.at
	outs, res, err := DecideSatisfaction(Fold(h2.evs), survey("S-4", &Answer{Score: 1}), rules, closedAt.Add(24*time.Hour))
	if err != nil || res.Outcome != followupv1.Outcome_OUTCOME_REOPENED || outs[0].Payload.(*complaintv1.SatisfactionRecorded).GetFollowUpId() != fid {
		t.Fatalf("late dissatisfied within window: %v %v %v", outs, res, err)
	}
	outs, res, err = DecideSatisfaction(Fold(h2.evs), survey("S-5", &Answer{Score: 1}), rules, closedAt.Add(8*24*time.Hour))
	if err != nil || len(outs) != 1 || res.Outcome != followupv1.Outcome_OUTCOME_RECORDED {
		t.Fatalf("late dissatisfied past window: %v %v %v", outs, res, err)
	}
}

func TestReopenOnContact(t *testing.T) {
	contact := &complaintv1.ContactAdded{ContactNumber: 2}
	t.Run("on resolved", func(t *testing.T) {
		h, _ := scheduledHistory(t)
		ev := h.add(t, contact)
		outs := DecideReopenOnContact(h.evs, ev.GetEventId(), rules)
		if len(outs) != 1 || outs[0].Causation != ev.GetEventId() {
			t.Fatalf("got %v", outs)
		}
		r := outs[0].Payload.(*complaintv1.ComplaintReopened)
		if r.GetVia() != complaintv1.ReopenVia_REOPEN_VIA_NEW_CONTACT || r.GetPreviousOwner() != "agent-7" {
			t.Errorf("got %v", r)
		}
		h.apply(t, outs)
		if again := DecideReopenOnContact(h.evs, ev.GetEventId(), rules); again != nil {
			t.Fatalf("reopened twice: %v", again)
		}
		if c := Fold(h.evs); c.Status != StatusOpen || c.Reopens != 1 || c.Current.Open() {
			t.Errorf("status %v reopens %d follow-up open %v", c.Status, c.Reopens, c.Current.Open())
		}
	})
	t.Run("on closed within and past the window", func(t *testing.T) {
		h, _ := scheduledHistory(t)
		h.add(t, &complaintv1.ComplaintClosed{})
		ev := h.add(t, contact)
		if outs := DecideReopenOnContact(h.evs, ev.GetEventId(), rules); len(outs) != 1 {
			t.Fatalf("within window: %v", outs)
		}
		h2, _ := scheduledHistory(t)
		h2.add(t, &complaintv1.ComplaintClosed{})
		h2.at = h2.at.Add(8 * 24 * time.Hour)
		ev2 := h2.add(t, contact)
		if outs := DecideReopenOnContact(h2.evs, ev2.GetEventId(), rules); outs != nil {
			t.Fatalf("past window: %v", outs)
		}
	})
	t.Run("contact while open, then resolved", func(t *testing.T) {
		h := &history{}
		h.add(t, &complaintv1.ComplaintFiled{})
		ev := h.add(t, contact)
		h.add(t, &complaintv1.ComplaintResolved{})
		if outs := DecideReopenOnContact(h.evs, ev.GetEventId(), rules); outs != nil {
			t.Fatalf("stale contact reopened: %v", outs)
		}
	})
}

func TestManualReopenClose(t *testing.T) {
	h, _ := scheduledHistory(t)
	if _, err := DecideClose(Fold(h.evs), ""); err == nil {
		t.Fatal("empty note accepted")
	}
	outs, err := DecideClose(Fold(h.evs), "客户已确认")
	if err != nil {
		t.Fatal(err)
	}
	h.apply(t, outs)
	if _, err := DecideClose(Fold(h.evs), "again"); !errors.Is(err, ErrAlreadyClosed) {
		t.Fatalf("close twice: %v", err)
	}
	outs, err = DecideReopen(Fold(h.evs), "复核")
	if err != nil {
		t.Fatal(err)
	}
	h.apply(t, outs)
	if _, err := DecideReopen(Fold(h.evs), "again"); !errors.Is(err, ErrNotReopenable) {
		t.Fatalf("reopen open: %v", err)
	}
	if _, err := DecideClose(Fold(h.evs), "x"); !errors.Is(err, ErrNotResolved) {
		t.Fatalf("close open: %v", err)
	}
}

func TestValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		fields []string
	}{
		{"attempt without id or outcome", (&Attempt{}).Validate(rules.Satisfaction), []string{"follow_up_id", "outcome"}},
		{"answer on no answer", (&Attempt{FollowUpID: "f", Outcome: complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_NO_ANSWER, Answer: &Answer{Score: 3}}).Validate(rules.Satisfaction), []string{"answer"}},
		{"score out of range", survey("S", &Answer{Score: 6}).Validate(rules.Satisfaction), []string{"answer.score"}},
		{"no verdict", survey("S", &Answer{}).Validate(rules.Satisfaction), []string{"answer.satisfaction"}},
		{"no survey id", (&Satisfaction{Survey: &complaintv1.ExternalRef{Source: "tmall"}, Answer: &Answer{Score: 3}}).Validate(rules.Satisfaction), []string{"survey.external_id"}},
		{"bad comment", survey("S", &Answer{Score: 3, Comment: "\xff"}).Validate(rules.Satisfaction), []string{"answer.comment"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ve *ValidationError
			if !errors.As(tc.err, &ve) {
				t.Fatalf("err = %v", tc.err)
			}
			var got []string
			for _, v := range ve.Violations {
				got = append(got, v.Field)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.fields) {
				t.Errorf("fields %v, want %v", got, tc.fields)
			}
		})
	}
}
