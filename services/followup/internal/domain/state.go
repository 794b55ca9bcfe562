// Package domain holds the follow-up rules as pure functions: Fold rebuilds a
// complaint's follow-up view from its events, and the Decide functions turn a
// command (or a reaction to another service's event) into the events to
// append. Nothing here talks to NATS, Postgres or gRPC.
package domain

import (
	"time"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
)

// Status is the complaint lifecycle every projection agrees on.
type Status = followupv1.ComplaintStatus

// Statuses.
const (
	StatusOpen     = followupv1.ComplaintStatus_COMPLAINT_STATUS_OPEN
	StatusResolved = followupv1.ComplaintStatus_COMPLAINT_STATUS_RESOLVED
	StatusClosed   = followupv1.ComplaintStatus_COMPLAINT_STATUS_CLOSED
)

// FollowUpState is where a follow-up stands.
type FollowUpState = followupv1.FollowUpState

// Follow-up states.
const (
	FUPending   = followupv1.FollowUpState_FOLLOW_UP_STATE_PENDING
	FUReached   = followupv1.FollowUpState_FOLLOW_UP_STATE_REACHED
	FUExhausted = followupv1.FollowUpState_FOLLOW_UP_STATE_EXHAUSTED
	FUDone      = followupv1.FollowUpState_FOLLOW_UP_STATE_DONE
)

// FollowUp is one scheduled follow-up (回访) of one resolution.
type FollowUp struct {
	ID          string
	DueAt       time.Time
	Queue       string
	MaxAttempts int
	Attempts    int
	// Outcomes of the recorded attempts, by number: a request repeating one of
	// them is a retry; the same number with another outcome is a caller that read
	// a stale queue, refused so its answer is not silently dropped.
	Outcomes      map[int]complaintv1.FollowUpOutcome
	NextAttemptAt time.Time // zero when no retry is planned
	CloseAt       time.Time // set once the attempts ran out
	State         FollowUpState
	Satisfaction  complaintv1.Satisfaction
	Score         int
}

// Open reports whether the follow-up still waits for a call or an answer.
func (f *FollowUp) Open() bool {
	return f != nil && (f.State == FUPending || f.State == FUReached || f.State == FUExhausted)
}

// Survey is what was recorded under a survey id, to tell a repeat from a reuse.
type Survey struct {
	FollowUpID   string
	Satisfaction complaintv1.Satisfaction
	Score        int
}

// Complaint is a complaint as follow-up sees it, folded from its events.
type Complaint struct {
	ID, ShopID, CustomerRef string
	Channel                 complaintv1.Channel
	Filed                   bool
	FiledAt                 time.Time
	Status                  Status
	Severity                complaintv1.Severity
	Category                string
	// Owner is the agent holding it now; LastOwner the last agent who did
	// (kept across unassignment, so a reopen goes back to them).
	Owner, LastOwner string
	Level            complaintv1.EscalationLevel
	ResolvedAt       time.Time
	ClosedAt         time.Time
	// ResolutionID is the event id of the latest ComplaintResolved.
	ResolutionID string
	// ReturnRequested: the customer asked for a refund or a return.
	ReturnRequested bool
	Retention       complaintv1.Retention
	// Current is the follow-up of the latest resolution (nil when none was
	// scheduled since); it stays after close so a late survey finds it.
	Current   *FollowUp
	FollowUps int
	Reopens   int
	Surveys   map[string]Survey
	// ReopenCauses holds the causation ids of ComplaintReopened events, so a
	// reaction redelivered reopens once.
	ReopenCauses map[string]bool
	LastSeq      uint64
	Erased       bool
}

// SurveyKey is the idempotency key of a survey.
func SurveyKey(ref *complaintv1.ExternalRef) string {
	return ref.GetSource() + "\x00" + ref.GetExternalId()
}

// Event is one stored event with its stream sequence.
type Event struct {
	Seq uint64
	Ev  *complaintv1.Event
}

// Fold replays a complaint's events.
func Fold(evs []Event) *Complaint {
	c := &Complaint{}
	for _, e := range evs {
		c.Evolve(e.Seq, e.Ev)
	}
	return c
}

// Evolve applies one event. Events are facts: nothing here refuses one.
func (c *Complaint) Evolve(seq uint64, ev *complaintv1.Event) {
	if seq != 0 && seq <= c.LastSeq {
		return
	}
	if seq != 0 {
		c.LastSeq = seq
	}
	at := ev.GetOccurredAt().AsTime()
	if c.ID == "" {
		c.ID, c.ShopID = ev.GetComplaintId(), ev.GetShopId()
	}
	switch p := ev.GetPayload().(type) {
	case *complaintv1.Event_ComplaintFiled:
		f := p.ComplaintFiled
		c.Filed, c.FiledAt, c.Status = true, ev.GetRecordedAt().AsTime(), StatusOpen
		c.CustomerRef, c.Channel = f.GetCustomerRef(), f.GetChannel()
		for _, k := range f.GetExpectedRemedies() {
			if k == complaintv1.RemedyKind_REMEDY_KIND_REFUND || k == complaintv1.RemedyKind_REMEDY_KIND_RETURN {
				c.ReturnRequested = true
			}
		}
	case *complaintv1.Event_ComplaintClassified:
		c.Severity, c.Category = p.ComplaintClassified.GetSeverity(), p.ComplaintClassified.GetCategory()
	case *complaintv1.Event_RiskFlagged:
		if s := p.RiskFlagged.GetSeverity(); s > c.Severity {
			c.Severity = s
		}
	case *complaintv1.Event_ComplaintAssigned:
		c.Owner, c.LastOwner = p.ComplaintAssigned.GetAgentId(), p.ComplaintAssigned.GetAgentId()
	case *complaintv1.Event_ComplaintTransferred:
		if to := p.ComplaintTransferred.GetToAgentId(); to != "" {
			c.Owner, c.LastOwner = to, to
		} else {
			c.Owner = ""
		}
	case *complaintv1.Event_ComplaintUnassigned:
		c.Owner = ""
	case *complaintv1.Event_ComplaintEscalated:
		c.Level = p.ComplaintEscalated.GetToLevel()
	case *complaintv1.Event_ComplaintResolved:
		r := p.ComplaintResolved
		c.Status, c.ResolvedAt, c.ResolutionID, c.ClosedAt = StatusResolved, at, ev.GetEventId(), time.Time{}
		c.Current = nil
		if by := r.GetResolvedBy(); by != "" && c.LastOwner == "" {
			c.LastOwner = by
		}
		if k := r.GetRemedyKind(); k == complaintv1.RemedyKind_REMEDY_KIND_REFUND || k == complaintv1.RemedyKind_REMEDY_KIND_RETURN {
			c.ReturnRequested = true
		}
		c.setRetention(r.GetRetention())
	case *complaintv1.Event_FollowUpScheduled:
		s := p.FollowUpScheduled
		c.Current = &FollowUp{ID: s.GetFollowUpId(), DueAt: s.GetDueAt().AsTime(), Queue: s.GetQueue(),
			MaxAttempts: int(s.GetMaxAttempts()), State: FUPending}
		c.FollowUps++
	case *complaintv1.Event_FollowUpAttempted:
		a := p.FollowUpAttempted
		c.setRetention(a.GetRetention())
		f := c.Current
		if f == nil || f.ID != a.GetFollowUpId() {
			return
		}
		f.Attempts = max(f.Attempts, int(a.GetAttempt()))
		if f.Outcomes == nil {
			f.Outcomes = map[int]complaintv1.FollowUpOutcome{}
		}
		f.Outcomes[int(a.GetAttempt())] = a.GetOutcome()
		f.NextAttemptAt, f.CloseAt = time.Time{}, time.Time{}
		switch a.GetOutcome() {
		case complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_REACHED:
			f.State = FUReached
		case complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_REFUSED:
			f.State = FUDone
		default:
			if a.GetNextAttemptAt() != nil {
				f.State, f.NextAttemptAt = FUPending, a.GetNextAttemptAt().AsTime()
			} else {
				f.State = FUExhausted
				if a.GetCloseAt() != nil {
					f.CloseAt = a.GetCloseAt().AsTime()
				}
			}
		}
	case *complaintv1.Event_SatisfactionRecorded:
		s := p.SatisfactionRecorded
		c.setRetention(s.GetRetention())
		if c.Surveys == nil {
			c.Surveys = map[string]Survey{}
		}
		if s.GetSurvey().GetExternalId() != "" {
			c.Surveys[SurveyKey(s.GetSurvey())] = Survey{FollowUpID: s.GetFollowUpId(), Satisfaction: s.GetSatisfaction(), Score: int(s.GetScore())}
		}
		if f := c.Current; f != nil && f.ID == s.GetFollowUpId() {
			f.State, f.Satisfaction, f.Score = FUDone, s.GetSatisfaction(), int(s.GetScore())
			f.NextAttemptAt, f.CloseAt = time.Time{}, time.Time{}
		}
	case *complaintv1.Event_ComplaintReopened:
		c.Status, c.ClosedAt = StatusOpen, time.Time{}
		c.Reopens++
		if c.Current.Open() {
			// The dispute is back with its owner; the pending call is moot.
			c.Current.State = FUDone
		}
		if id := ev.GetCausationId(); id != "" {
			if c.ReopenCauses == nil {
				c.ReopenCauses = map[string]bool{}
			}
			c.ReopenCauses[id] = true
		}
	case *complaintv1.Event_ComplaintClosed:
		c.Status, c.ClosedAt = StatusClosed, at
		if c.Current.Open() {
			c.Current.State = FUDone
		}
	case *complaintv1.Event_PersonalDataErased:
		c.Erased = true
	}
}

// setRetention keeps the latest known retention; a later "unspecified" says nothing.
func (c *Complaint) setRetention(r complaintv1.Retention) {
	if r != complaintv1.Retention_RETENTION_UNSPECIFIED {
		c.Retention = r
		if r == complaintv1.Retention_RETENTION_KEPT || r == complaintv1.Retention_RETENTION_RETURNED {
			c.ReturnRequested = true
		}
	}
}

// Stage names why a complaint that is not closed is still open, for the sweep.
func (c *Complaint) Stage() string {
	switch {
	case c.Status == StatusClosed:
		return ""
	case c.Status == StatusOpen:
		return "open"
	case c.Current == nil:
		return "resolved_no_follow_up"
	case c.Current.State == FUExhausted:
		return "follow_up_exhausted"
	case c.Current.Open():
		return "follow_up_pending"
	}
	return "follow_up_done_not_closed"
}

// QueueDue is when the current follow-up wants a call: the next retry when
// one is planned, else the scheduled due time; zero when no work is left. A
// reached customer whose answer is not recorded yet stays in the queue.
func (c *Complaint) QueueDue() time.Time {
	f := c.Current
	if c.Status != StatusResolved || f == nil || (f.State != FUPending && f.State != FUReached) {
		return time.Time{}
	}
	if !f.NextAttemptAt.IsZero() {
		return f.NextAttemptAt
	}
	return f.DueAt
}
