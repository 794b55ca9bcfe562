package adapters

import (
	"fmt"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/reporting/internal/domain"
)

var eventColumns = []string{
	"stream_seq", "event_id", "complaint_id", "shop_id", "event_type", "occurred_at", "recorded_at",
	"actor_kind", "actor_id", "actor_role", "channel", "agent_id", "queue", "code", "level", "amount_fen",
	"seconds", "has_personal", "correlation_id", "causation_id",
}

var escalationColumns = []string{"stream_seq", "complaint_id", "shop_id", "season", "occurred_at", "from_level", "to_level", "trigger"}

// eventRow appends an event's bi event row, in eventColumns order, to the
// rows to COPY: the codes and numbers an analyst filters on, never personal
// data. Sealed fields are only flagged, free-text notes and reasons are not
// kept (they may hold anything), and a customer's ref is not kept either.
func eventRow(out *binaryRows, seq uint64, typ string, ev *complaintv1.Event) error {
	var (
		channel, agent, queue, code string
		level                       int32
		amount, seconds             int64
		personal                    bool
	)
	switch p := ev.GetPayload().(type) {
	case *complaintv1.Event_ComplaintFiled:
		channel, amount, personal = domain.ChannelID(p.ComplaintFiled.GetChannel()), p.ComplaintFiled.GetClaimedAmountFen(), p.ComplaintFiled.GetPersonal() != nil
	case *complaintv1.Event_ContactAdded:
		channel, personal, level = domain.ChannelID(p.ContactAdded.GetChannel()), p.ContactAdded.GetPersonal() != nil, p.ContactAdded.GetContactNumber()
	case *complaintv1.Event_EvidenceAttached:
		code, personal = domain.EvidenceKindID(p.EvidenceAttached.GetKind()), p.EvidenceAttached.GetPersonal() != nil
	case *complaintv1.Event_ComplaintClassified:
		code, level = p.ComplaintClassified.GetCategory(), int32(p.ComplaintClassified.GetSeverity())
	case *complaintv1.Event_ExternalRefLinked:
		channel, code = domain.ChannelID(p.ExternalRefLinked.GetChannel()), p.ExternalRefLinked.GetRef().GetSource()
	case *complaintv1.Event_ComplaintRouted:
		queue, level = p.ComplaintRouted.GetQueue(), p.ComplaintRouted.GetTierRequired()
	case *complaintv1.Event_ComplaintAssigned:
		agent, queue, level = p.ComplaintAssigned.GetAgentId(), p.ComplaintAssigned.GetQueue(), p.ComplaintAssigned.GetAgentTier()
		code = domain.AssignmentModeID(p.ComplaintAssigned.GetMode())
	case *complaintv1.Event_ComplaintUnassigned:
		agent = p.ComplaintUnassigned.GetAgentId()
	case *complaintv1.Event_ComplaintTransferred:
		agent, queue, level = p.ComplaintTransferred.GetToAgentId(), p.ComplaintTransferred.GetToQueue(), p.ComplaintTransferred.GetTransferCount()
	case *complaintv1.Event_AgentResponded:
		r := p.AgentResponded
		agent, channel, seconds, personal = r.GetAgentId(), domain.ChannelID(r.GetChannel()), r.GetResponseSeconds(), r.GetPersonal() != nil
		if r.GetFirstResponse() {
			code = "first_response"
		}
	case *complaintv1.Event_PromiseMade:
		agent, code = p.PromiseMade.GetAgentId(), p.PromiseMade.GetPromiseId()
	case *complaintv1.Event_RemedyProposed:
		agent, code, amount = p.RemedyProposed.GetProposedBy(), domain.RemedyKindID(p.RemedyProposed.GetKind()), p.RemedyProposed.GetAmountFen()
	case *complaintv1.Event_RemedyApproved:
		agent, amount = p.RemedyApproved.GetApprovedBy(), p.RemedyApproved.GetAmountFen()
	case *complaintv1.Event_RemedyRejected:
		agent = p.RemedyRejected.GetRejectedBy()
	case *complaintv1.Event_ComplaintResolved:
		r := p.ComplaintResolved
		agent, code, amount = r.GetResolvedBy(), domain.RemedyKindID(r.GetRemedyKind()), r.GetRemedyAmountFen()
	case *complaintv1.Event_DeadlineBreached:
		code = domain.ClockID(p.DeadlineBreached.GetClock())
		seconds = int64(p.DeadlineBreached.GetTarget().AsDuration().Seconds())
	case *complaintv1.Event_ComplaintEscalated:
		e := p.ComplaintEscalated
		code, level, queue = domain.TriggerID(e.GetTrigger()), int32(e.GetToLevel()), e.GetQueue()
	case *complaintv1.Event_RiskFlagged:
		code, level = p.RiskFlagged.GetSignal().GetCode(), int32(p.RiskFlagged.GetSeverity())
	case *complaintv1.Event_PromiseBroken:
		agent, code = p.PromiseBroken.GetAgentId(), p.PromiseBroken.GetPromiseId()
	case *complaintv1.Event_FollowUpScheduled:
		queue, level = p.FollowUpScheduled.GetQueue(), p.FollowUpScheduled.GetMaxAttempts()
	case *complaintv1.Event_FollowUpAttempted:
		a := p.FollowUpAttempted
		agent, channel, code, level = a.GetAgentId(), domain.ChannelID(a.GetChannel()), domain.FollowUpOutcomeID(a.GetOutcome()), a.GetAttempt()
	case *complaintv1.Event_SatisfactionRecorded:
		s := p.SatisfactionRecorded
		channel, code, level, personal = domain.ChannelID(s.GetChannel()), domain.SatisfactionID(s.GetSatisfaction()), s.GetScore(), s.GetPersonal() != nil
	case *complaintv1.Event_ComplaintReopened:
		code = domain.ReopenViaID(p.ComplaintReopened.GetVia())
	case *complaintv1.Event_ComplaintClosed:
		code = domain.CloseReasonID(p.ComplaintClosed.GetReason())
	}
	if typ == "" {
		typ = events.TypeOf(ev)
	}
	a := ev.GetActor()
	actorID := a.GetId()
	if a.GetKind() == complaintv1.ActorKind_ACTOR_KIND_CUSTOMER {
		actorID = "" // the customer ref identifies a person across complaints
	}
	n := len(out.buf)
	out.row(len(eventColumns))
	out.int8(int64(seq))
	if err := out.uuid(ev.GetEventId()); err != nil {
		out.buf, out.rows = out.buf[:n], out.rows-1
		return fmt.Errorf("event_id: %w", err)
	}
	if err := out.uuid(ev.GetComplaintId()); err != nil {
		out.buf, out.rows = out.buf[:n], out.rows-1
		return fmt.Errorf("complaint_id: %w", err)
	}
	out.text(ev.GetShopId())
	out.text(typ)
	out.timestamptz(ev.GetOccurredAt().AsTime())
	out.timestamptz(ev.GetRecordedAt().AsTime())
	out.text(domain.ActorKindID(a.GetKind()))
	out.text(actorID)
	out.text(a.GetRole())
	out.text(channel)
	out.text(agent)
	out.text(queue)
	out.text(code)
	out.int4(level)
	out.int8(amount)
	out.int8(seconds)
	out.bool(personal)
	out.text(ev.GetCorrelationId())
	out.text(ev.GetCausationId())
	return nil
}

// escalationRow is the escalations row of a ComplaintEscalated, nil for
// any other event. The season is the complaint's, as folded so far.
func escalationRow(seq uint64, ev *complaintv1.Event, f *domain.Fact) []any {
	e := ev.GetComplaintEscalated()
	if e == nil {
		return nil
	}
	season := int32(0)
	if f != nil {
		season = int32(f.Season)
	}
	return []any{int64(seq), ev.GetComplaintId(), ev.GetShopId(), season, ev.GetOccurredAt().AsTime(),
		int32(e.GetFromLevel()), int32(e.GetToLevel()), domain.TriggerID(e.GetTrigger())}
}
