package domain

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
	"github.com/kesu315/kesu/services/kit/policy"
)

// Limits of free text and ids in commands.
const (
	MaxIDLen      = 128
	MaxReasonLen  = 500
	MaxCommentLen = 2000
)

// Out is one event payload to append; Causation, when set, is the event id
// (or request) that caused it.
type Out struct {
	Payload   proto.Message
	Causation string
}

// Result says what a command did.
type Result struct {
	Outcome       followupv1.Outcome
	Attempt       int
	NextAttemptAt time.Time
	Satisfaction  complaintv1.Satisfaction
	// Created is false when the command repeated one recorded before.
	Created bool
}

// followUpNS derives follow-up ids from the resolution they follow, so a
// reaction handled twice names the same follow-up.
var followUpNS = uuid.MustParse("5d1b3c1e-8a35-4c47-9b0e-315315000006")

// FollowUpID is the follow-up id of a resolution event.
func FollowUpID(resolutionEventID string) string {
	return uuid.NewSHA1(followUpNS, []byte(resolutionEventID)).String()
}

// PolicySeverity converts the event enum to the policy's severity.
func PolicySeverity(s complaintv1.Severity) policy.Severity {
	if s == complaintv1.Severity_SEVERITY_UNSPECIFIED {
		return ""
	}
	return policy.Severity(strings.ToLower(strings.TrimPrefix(s.String(), "SEVERITY_")))
}

// DecideSchedule schedules the follow-up of the latest resolution: at most
// one per resolution, due DelayFor(severity) after it (at once for major
// complaints). Nothing when the complaint is not resolved or has one.
func DecideSchedule(c *Complaint, rules policy.FollowUp, reason string) []Out {
	if !c.Filed || c.Status != StatusResolved || c.Current != nil || c.ResolutionID == "" {
		return nil
	}
	return []Out{{Payload: scheduled(c, rules, c.ResolvedAt.Add(rules.DelayFor(PolicySeverity(c.Severity))), reason), Causation: c.ResolutionID}}
}

func scheduled(c *Complaint, rules policy.FollowUp, due time.Time, reason string) *complaintv1.FollowUpScheduled {
	if reason == "" {
		if d := rules.DelayFor(PolicySeverity(c.Severity)); d == 0 {
			reason = "immediate: severity " + string(PolicySeverity(c.Severity))
		} else {
			reason = fmt.Sprintf("%s after resolution", d)
		}
	}
	return &complaintv1.FollowUpScheduled{
		FollowUpId: FollowUpID(c.ResolutionID), DueAt: timestamppb.New(due), Queue: rules.Queue,
		MaxAttempts: int32(max(rules.MaxAttempts, 1)), Reason: reason,
	}
}

// Answer is the customer's satisfaction answer; Comment is already sealed
// by the caller (it may hold personal data).
type Answer struct {
	Satisfaction complaintv1.Satisfaction
	Score        int
	Comment      string
	Sealed       *complaintv1.Sealed
	Retention    complaintv1.Retention
}

// Verdict is the answer's satisfaction: as given, or derived from the score.
func (a *Answer) Verdict(s policy.Satisfaction) complaintv1.Satisfaction {
	if a.Satisfaction != complaintv1.Satisfaction_SATISFACTION_UNSPECIFIED {
		return a.Satisfaction
	}
	switch {
	case s.Satisfied(a.Score):
		return complaintv1.Satisfaction_SATISFACTION_SATISFIED
	case s.Dissatisfied(a.Score):
		return complaintv1.Satisfaction_SATISFACTION_DISSATISFIED
	case a.Score > 0:
		return complaintv1.Satisfaction_SATISFACTION_NEUTRAL
	}
	return complaintv1.Satisfaction_SATISFACTION_UNSPECIFIED
}

func (a *Answer) validate(vs *violations, prefix string, s policy.Satisfaction) {
	if a.Satisfaction < 0 || a.Satisfaction > complaintv1.Satisfaction_SATISFACTION_DISSATISFIED {
		vs.add(prefix+"satisfaction", "unknown value %d", a.Satisfaction)
	}
	if a.Score != 0 && (a.Score < 1 || a.Score > s.Scale) {
		vs.add(prefix+"score", "must be between 1 and %d, got %d", s.Scale, a.Score)
	}
	if a.Satisfaction == complaintv1.Satisfaction_SATISFACTION_UNSPECIFIED && a.Score == 0 {
		vs.add(prefix+"satisfaction", "give a satisfaction or a score (1..%d)", s.Scale)
	}
	checkText(vs, prefix+"comment", a.Comment, MaxCommentLen, false)
	if a.Retention < 0 || a.Retention > complaintv1.Retention_RETENTION_RETURNED {
		vs.add(prefix+"retention", "unknown value %d", a.Retention)
	}
}

func checkText(vs *violations, field, s string, maxLen int, required bool) {
	switch {
	case !utf8.ValidString(s):
		vs.add(field, "is not valid UTF-8")
	case required && strings.TrimSpace(s) == "":
		vs.add(field, "is required")
	case utf8.RuneCountInString(s) > maxLen:
		vs.add(field, "is %d characters, longer than %d", utf8.RuneCountInString(s), maxLen)
	}
}

func checkID(vs *violations, field, s string) {
	switch {
	case s == "":
		vs.add(field, "is required")
	case !utf8.ValidString(s):
		vs.add(field, "is not valid UTF-8")
	case len(s) > MaxIDLen:
		vs.add(field, "is %d bytes, longer than %d", len(s), MaxIDLen)
	case strings.ContainsAny(s, " \t\r\n"):
		vs.add(field, "must not contain whitespace")
	}
}

func checkChannel(vs *violations, field string, ch complaintv1.Channel) {
	if ch < 0 || ch > complaintv1.Channel_CHANNEL_OTHER {
		vs.add(field, "unknown channel %d", ch)
	}
}

// Attempt is one follow-up call attempt.
type Attempt struct {
	FollowUpID string
	// Attempt is the number the caller expects to record (0: the next one).
	Attempt int
	Outcome complaintv1.FollowUpOutcome
	Channel complaintv1.Channel
	AgentID string
	Answer  *Answer
}

// Validate checks the command on its own.
func (a *Attempt) Validate(s policy.Satisfaction) error {
	var vs violations
	checkID(&vs, "follow_up_id", a.FollowUpID)
	switch a.Outcome {
	case complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_REACHED, complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_NO_ANSWER,
		complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_REFUSED:
	default:
		vs.add("outcome", "must be REACHED, NO_ANSWER or REFUSED")
	}
	if a.Attempt < 0 {
		vs.add("attempt", "must not be negative")
	}
	checkChannel(&vs, "channel", a.Channel)
	if a.Answer != nil {
		if a.Outcome != complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_REACHED {
			vs.add("answer", "only a REACHED attempt has an answer")
		} else {
			a.Answer.validate(&vs, "answer.", s)
		}
	}
	return vs.err()
}

// DecideAttempt records a call attempt and what follows from it: a retry, a
// pending close after the last one, a close on refusal, or the answer's
// outcome when the customer was reached and answered.
func DecideAttempt(c *Complaint, cmd *Attempt, rules policy.FollowUp, now time.Time) ([]Out, Result, error) {
	if !c.Filed {
		return nil, Result{}, ErrNotFound
	}
	f := c.Current
	if f == nil || f.ID != cmd.FollowUpID {
		return nil, Result{}, fmt.Errorf("%w: %s", ErrNotCurrent, cmd.FollowUpID)
	}
	if cmd.Attempt != 0 && cmd.Attempt <= f.Attempts {
		if got, ok := f.Outcomes[cmd.Attempt]; ok && got != cmd.Outcome {
			return nil, Result{}, fmt.Errorf("%w: attempt %d is already recorded as %s, next is %d",
				ErrStaleAttempt, cmd.Attempt, strings.ToLower(strings.TrimPrefix(got.String(), "FOLLOW_UP_OUTCOME_")), f.Attempts+1)
		}
		// A retried request: answer with what is recorded.
		return nil, Result{Outcome: followupv1.Outcome_OUTCOME_RECORDED, Attempt: cmd.Attempt, NextAttemptAt: f.NextAttemptAt}, nil
	}
	if c.Status != StatusResolved || (f.State != FUPending && f.State != FUReached) {
		return nil, Result{}, fmt.Errorf("%w (state %s, complaint %s)", ErrFollowUpEnded, stateName(f.State), statusName(c.Status))
	}
	n := f.Attempts + 1
	if cmd.Attempt != 0 && cmd.Attempt != n {
		return nil, Result{}, fmt.Errorf("%w: got %d, next is %d", ErrStaleAttempt, cmd.Attempt, n)
	}
	att := &complaintv1.FollowUpAttempted{FollowUpId: f.ID, Attempt: int32(n), Outcome: cmd.Outcome,
		AgentId: cmd.AgentID, Channel: cmd.Channel}
	if cmd.Answer != nil {
		att.Retention = cmd.Answer.Retention
	}
	res := Result{Attempt: n, Created: true}
	out := []Out{{Payload: att}}
	switch cmd.Outcome {
	case complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_REACHED:
		res.Outcome = followupv1.Outcome_OUTCOME_AWAITING_ANSWER
		if cmd.Answer != nil {
			more, r := answered(c, f.ID, cmd.Answer, cmd.Channel, nil, rules, now)
			out = append(out, more...)
			res.Outcome, res.Satisfaction = r.Outcome, r.Satisfaction
		}
	case complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_REFUSED:
		out = append(out, Out{Payload: &complaintv1.ComplaintClosed{Reason: complaintv1.CloseReason_CLOSE_REASON_REFUSED,
			Note: "客户拒绝回访 / the customer refused the follow-up"}})
		res.Outcome = followupv1.Outcome_OUTCOME_CLOSED
	default:
		r := rules
		r.MaxAttempts = f.MaxAttempts
		if d, ok := r.RetryDelay(n); ok {
			res.NextAttemptAt = now.Add(d)
			att.NextAttemptAt = timestamppb.New(res.NextAttemptAt)
			res.Outcome = followupv1.Outcome_OUTCOME_RETRY_PLANNED
		} else {
			// The last attempt: wait the last retry interval for an answer from
			// another route (a survey, a call back) before closing.
			var grace time.Duration
			if len(rules.RetryAfter) > 0 {
				grace = rules.RetryAfter[len(rules.RetryAfter)-1]
			}
			att.CloseAt = timestamppb.New(now.Add(grace))
			res.Outcome = followupv1.Outcome_OUTCOME_CLOSE_PENDING
			res.NextAttemptAt = time.Time{}
		}
	}
	return out, res, nil
}

// answered is what an answer leads to: the SatisfactionRecorded, then a
// close (satisfied, neutral), a reopen (dissatisfied) or nothing more.
func answered(c *Complaint, followUpID string, a *Answer, ch complaintv1.Channel, survey *complaintv1.ExternalRef, rules policy.FollowUp, now time.Time) ([]Out, Result) {
	v := a.Verdict(rules.Satisfaction)
	rec := &complaintv1.SatisfactionRecorded{FollowUpId: followUpID, Satisfaction: v, Score: int32(a.Score),
		Personal: a.Sealed, Channel: ch, Survey: survey, Retention: a.Retention}
	out := []Out{{Payload: rec}}
	res := Result{Outcome: followupv1.Outcome_OUTCOME_RECORDED, Satisfaction: v, Created: true}
	switch {
	case c.Status == StatusResolved && v == complaintv1.Satisfaction_SATISFACTION_SATISFIED:
		out = append(out, Out{Payload: &complaintv1.ComplaintClosed{Reason: complaintv1.CloseReason_CLOSE_REASON_SATISFIED}})
		res.Outcome = followupv1.Outcome_OUTCOME_CLOSED
	case c.Status == StatusResolved && v == complaintv1.Satisfaction_SATISFACTION_NEUTRAL:
		out = append(out, Out{Payload: &complaintv1.ComplaintClosed{Reason: complaintv1.CloseReason_CLOSE_REASON_NEUTRAL}})
		res.Outcome = followupv1.Outcome_OUTCOME_CLOSED
	case v == complaintv1.Satisfaction_SATISFACTION_DISSATISFIED && rules.ReopenOnDissatisfied &&
		(c.Status == StatusResolved || (c.Status == StatusClosed && !now.After(c.ClosedAt.Add(rules.ReopenWindow)))):
		reason := "回访不满意 / dissatisfied at follow-up"
		if a.Score > 0 {
			reason += fmt.Sprintf(" (%d/%d)", a.Score, rules.Satisfaction.Scale)
		}
		out = append(out, Out{Payload: &complaintv1.ComplaintReopened{Via: complaintv1.ReopenVia_REOPEN_VIA_DISSATISFIED_FOLLOW_UP,
			Reason: reason, PreviousOwner: c.LastOwner}})
		res.Outcome = followupv1.Outcome_OUTCOME_REOPENED
	}
	return out, res
}

// Satisfaction is a satisfaction answer from a call or a survey.
type Satisfaction struct {
	Survey  *complaintv1.ExternalRef
	Answer  *Answer
	Channel complaintv1.Channel
}

// Validate checks the command on its own.
func (s *Satisfaction) Validate(sc policy.Satisfaction) error {
	var vs violations
	checkID(&vs, "survey.source", s.Survey.GetSource())
	checkID(&vs, "survey.external_id", s.Survey.GetExternalId())
	checkText(&vs, "survey.url", s.Survey.GetUrl(), 2048, false)
	checkChannel(&vs, "channel", s.Channel)
	if s.Answer == nil {
		vs.add("answer", "is required")
	} else {
		s.Answer.validate(&vs, "answer.", sc)
	}
	return vs.err()
}

// DecideSatisfaction records an answer, idempotent on the survey id. On a
// resolved complaint it settles the current follow-up (scheduling it first
// when the answer came before the call was even planned); on a closed one it
// is recorded, and a dissatisfied answer within the reopen window reopens.
func DecideSatisfaction(c *Complaint, cmd *Satisfaction, rules policy.FollowUp, now time.Time) ([]Out, Result, error) {
	if !c.Filed {
		return nil, Result{}, ErrNotFound
	}
	v := cmd.Answer.Verdict(rules.Satisfaction)
	if prev, ok := c.Surveys[SurveyKey(cmd.Survey)]; ok {
		if prev.Satisfaction != v || prev.Score != cmd.Answer.Score {
			return nil, Result{}, fmt.Errorf("%w: %s/%s", ErrSurveyReused, cmd.Survey.GetSource(), cmd.Survey.GetExternalId())
		}
		return nil, Result{Outcome: followupv1.Outcome_OUTCOME_RECORDED, Satisfaction: v}, nil
	}
	if c.Status == StatusOpen {
		return nil, Result{}, fmt.Errorf("%w: it is open; a satisfaction answer follows a resolution", ErrNotResolved)
	}
	var out []Out
	fid := ""
	if c.Current != nil {
		fid = c.Current.ID
	} else if c.Status == StatusResolved {
		s := scheduled(c, rules, now, "survey answered before the follow-up call")
		out = append(out, Out{Payload: s, Causation: c.ResolutionID})
		fid = s.GetFollowUpId()
	}
	if c.Status == StatusResolved && c.Current != nil && !c.Current.Open() {
		// The follow-up was settled already (e.g. dissatisfied without reopen):
		// this answer is recorded but decides nothing more.
		return append(out, Out{Payload: &complaintv1.SatisfactionRecorded{FollowUpId: fid, Satisfaction: v,
				Score: int32(cmd.Answer.Score), Personal: cmd.Answer.Sealed, Channel: cmd.Channel, Survey: cmd.Survey,
				Retention: cmd.Answer.Retention}}),
			Result{Outcome: followupv1.Outcome_OUTCOME_RECORDED, Satisfaction: v, Created: true}, nil
	}
	more, res := answered(c, fid, cmd.Answer, cmd.Channel, cmd.Survey, rules, now)
	return append(out, more...), res, nil
}

// DecideCloseNoAnswer closes a complaint whose last attempt went unanswered
// once its grace ran out, exactly once: nothing when anything settled it
// meanwhile (an answer, a reopen, another close).
func DecideCloseNoAnswer(c *Complaint, followUpID string, now time.Time) []Out {
	f := c.Current
	if c.Status != StatusResolved || f == nil || f.ID != followUpID || f.State != FUExhausted || now.Before(f.CloseAt) {
		return nil
	}
	return []Out{{Payload: &complaintv1.ComplaintClosed{Reason: complaintv1.CloseReason_CLOSE_REASON_NO_ANSWER,
		Note: fmt.Sprintf("回访 %d 次未接通 / no answer after %d attempts", f.Attempts, f.Attempts)}}}
}

// DecideReopenOnContact reopens a complaint a customer contacted again after
// it was resolved, or closed within the reopen window. evs is the whole
// history; contactID the ContactAdded's event id. Nothing when the contact
// came while it was open, or something reopened it since.
func DecideReopenOnContact(evs []Event, contactID string, rules policy.FollowUp) []Out {
	before := &Complaint{}
	var contact *complaintv1.Event
	i := 0
	for ; i < len(evs); i++ {
		if evs[i].Ev.GetEventId() == contactID {
			contact = evs[i].Ev
			break
		}
		before.Evolve(evs[i].Seq, evs[i].Ev)
	}
	if contact == nil || contact.GetContactAdded() == nil || !before.Filed {
		return nil
	}
	if before.ReopenCauses[contactID] {
		return nil
	}
	for _, e := range evs[i+1:] {
		if e.Ev.GetComplaintReopened() != nil {
			return nil // reopened since, by this contact or anything else
		}
	}
	at := contact.GetOccurredAt().AsTime()
	switch {
	case before.Status == StatusResolved:
	case before.Status == StatusClosed && !at.After(before.ClosedAt.Add(rules.ReopenWindow)):
	default:
		return nil
	}
	return []Out{{Payload: &complaintv1.ComplaintReopened{Via: complaintv1.ReopenVia_REOPEN_VIA_NEW_CONTACT,
		Reason:        fmt.Sprintf("客户再次进线（第 %d 次）/ the customer contacted again (contact %d)", contact.GetContactAdded().GetContactNumber(), contact.GetContactAdded().GetContactNumber()),
		PreviousOwner: before.LastOwner}, Causation: contactID}}
}

// DecideReopen reopens by hand.
func DecideReopen(c *Complaint, reason string) ([]Out, error) {
	var vs violations
	checkText(&vs, "reason", reason, MaxReasonLen, true)
	if err := vs.err(); err != nil {
		return nil, err
	}
	if !c.Filed {
		return nil, ErrNotFound
	}
	if c.Status != StatusResolved && c.Status != StatusClosed {
		return nil, ErrNotReopenable
	}
	return []Out{{Payload: &complaintv1.ComplaintReopened{Via: complaintv1.ReopenVia_REOPEN_VIA_MANUAL, Reason: reason, PreviousOwner: c.LastOwner}}}, nil
}

// DecideClose closes a resolved complaint by hand.
func DecideClose(c *Complaint, note string) ([]Out, error) {
	var vs violations
	checkText(&vs, "note", note, MaxReasonLen, true)
	if err := vs.err(); err != nil {
		return nil, err
	}
	if !c.Filed {
		return nil, ErrNotFound
	}
	switch c.Status {
	case StatusClosed:
		return nil, ErrAlreadyClosed
	case StatusOpen:
		return nil, fmt.Errorf("%w: resolve it before closing", ErrNotResolved)
	}
	return []Out{{Payload: &complaintv1.ComplaintClosed{Reason: complaintv1.CloseReason_CLOSE_REASON_ADMINISTRATIVE, Note: note}}}, nil
}

func stateName(s FollowUpState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "FOLLOW_UP_STATE_"))
}

func statusName(s Status) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "COMPLAINT_STATUS_"))
}
