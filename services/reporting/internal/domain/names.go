package domain

import (
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
)

// enumIDs lists an enum's ids by number: CHANNEL_ONLINE_CHAT becomes
// online_chat, the ids the policy file and the BI columns use; unspecified
// is "". Built once: the projection names a few enums per event.
func enumIDs(d protoreflect.EnumDescriptor, prefix string) []string {
	vals := d.Values()
	maxN := 0
	for i := 0; i < vals.Len(); i++ {
		maxN = max(maxN, int(vals.Get(i).Number()))
	}
	out := make([]string, maxN+1)
	for i := 0; i < vals.Len(); i++ {
		v := vals.Get(i)
		if v.Number() > 0 {
			out[v.Number()] = strings.ToLower(strings.TrimPrefix(string(v.Name()), prefix))
		}
	}
	return out
}

func lookup(ids []string, n protoreflect.EnumNumber) string {
	if n < 0 || int(n) >= len(ids) {
		return "unknown"
	}
	return ids[n]
}

var (
	channelIDs      = enumIDs(complaintv1.Channel(0).Descriptor(), "CHANNEL_")
	severityIDs     = enumIDs(complaintv1.Severity(0).Descriptor(), "SEVERITY_")
	remedyIDs       = enumIDs(complaintv1.RemedyKind(0).Descriptor(), "REMEDY_KIND_")
	triggerIDs      = enumIDs(complaintv1.EscalationTrigger(0).Descriptor(), "ESCALATION_TRIGGER_")
	clockIDs        = enumIDs(complaintv1.ClockKind(0).Descriptor(), "CLOCK_KIND_")
	levelIDs        = enumIDs(complaintv1.EscalationLevel(0).Descriptor(), "ESCALATION_LEVEL_")
	customerIDs     = enumIDs(complaintv1.CustomerType(0).Descriptor(), "CUSTOMER_TYPE_")
	outcomeIDs      = enumIDs(complaintv1.ResolutionOutcome(0).Descriptor(), "RESOLUTION_OUTCOME_")
	retentionIDs    = enumIDs(complaintv1.Retention(0).Descriptor(), "RETENTION_")
	satisfactionIDs = enumIDs(complaintv1.Satisfaction(0).Descriptor(), "SATISFACTION_")
	closeIDs        = enumIDs(complaintv1.CloseReason(0).Descriptor(), "CLOSE_REASON_")
	actorIDs        = enumIDs(complaintv1.ActorKind(0).Descriptor(), "ACTOR_KIND_")
	followUpIDs     = enumIDs(complaintv1.FollowUpOutcome(0).Descriptor(), "FOLLOW_UP_OUTCOME_")
	reopenIDs       = enumIDs(complaintv1.ReopenVia(0).Descriptor(), "REOPEN_VIA_")
	evidenceIDs     = enumIDs(complaintv1.EvidenceKind(0).Descriptor(), "EVIDENCE_KIND_")
	assignmentIDs   = enumIDs(complaintv1.AssignmentMode(0).Descriptor(), "ASSIGNMENT_MODE_")
)

// ChannelID is the policy id of a channel, e.g. online_chat.
func ChannelID(c complaintv1.Channel) string { return lookup(channelIDs, protoreflect.EnumNumber(c)) }

// SeverityID is normal, high, major or crisis.
func SeverityID(s complaintv1.Severity) string {
	return lookup(severityIDs, protoreflect.EnumNumber(s))
}

// RemedyKindID is refund, exchange, return, …
func RemedyKindID(k complaintv1.RemedyKind) string {
	return lookup(remedyIDs, protoreflect.EnumNumber(k))
}

// TriggerID is why a complaint escalated: breach, severity, …
func TriggerID(t complaintv1.EscalationTrigger) string {
	return lookup(triggerIDs, protoreflect.EnumNumber(t))
}

// ClockID names an SLA clock: first_response, resolution, …
func ClockID(c complaintv1.ClockKind) string { return lookup(clockIDs, protoreflect.EnumNumber(c)) }

// LevelID names an escalation level: agent, supervisor, platform, pr.
func LevelID(l complaintv1.EscalationLevel) string {
	return lookup(levelIDs, protoreflect.EnumNumber(l))
}

func customerType(c complaintv1.CustomerType) string {
	return lookup(customerIDs, protoreflect.EnumNumber(c))
}
func outcome(o complaintv1.ResolutionOutcome) string {
	return lookup(outcomeIDs, protoreflect.EnumNumber(o))
}
func retention(r complaintv1.Retention) string {
	return lookup(retentionIDs, protoreflect.EnumNumber(r))
}
func satisfaction(s complaintv1.Satisfaction) string {
	return lookup(satisfactionIDs, protoreflect.EnumNumber(s))
}
func closeReason(r complaintv1.CloseReason) string {
	return lookup(closeIDs, protoreflect.EnumNumber(r))
}

// ActorKindID names an actor kind: customer, agent, system, external, supervisor.
func ActorKindID(k complaintv1.ActorKind) string { return lookup(actorIDs, protoreflect.EnumNumber(k)) }

// SatisfactionID is satisfied, neutral or dissatisfied.
func SatisfactionID(s complaintv1.Satisfaction) string { return satisfaction(s) }

// OutcomeID is how a complaint was resolved.
func OutcomeID(o complaintv1.ResolutionOutcome) string { return outcome(o) }

// FollowUpOutcomeID is reached, no_answer or refused.
func FollowUpOutcomeID(o complaintv1.FollowUpOutcome) string {
	return lookup(followUpIDs, protoreflect.EnumNumber(o))
}

// ReopenViaID says what reopened a complaint.
func ReopenViaID(v complaintv1.ReopenVia) string {
	return lookup(reopenIDs, protoreflect.EnumNumber(v))
}

// CloseReasonID says why a complaint closed.
func CloseReasonID(r complaintv1.CloseReason) string { return closeReason(r) }

func levelEnum(l int32) complaintv1.EscalationLevel { return complaintv1.EscalationLevel(l) }

// EvidenceKindID is photo, video, …
func EvidenceKindID(k complaintv1.EvidenceKind) string {
	return lookup(evidenceIDs, protoreflect.EnumNumber(k))
}

// AssignmentModeID is auto, claim, sticky, transfer or supervisor.
func AssignmentModeID(m complaintv1.AssignmentMode) string {
	return lookup(assignmentIDs, protoreflect.EnumNumber(m))
}
