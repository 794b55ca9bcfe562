package domain

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/policy"
)

// Errors of the decisions; ports maps them to gRPC codes.
var (
	ErrNotFound     = errors.New("complaint not found")
	ErrClosed       = errors.New("complaint is closed")
	ErrUnknownLevel = errors.New("unknown ladder level")
	ErrWrongWay     = errors.New("level is not in the requested direction")
)

// Decision is one event to append: its deterministic id and payload.
type Decision struct {
	ID      string
	Payload proto.Message
}

// Step is a ladder move a decision made, for the alerts.
type Step struct {
	From, To policy.Level
	Alert    bool
	Trigger  complaintv1.EscalationTrigger
}

// Breach decides what a due clock appends: DeadlineBreached, or PromiseBroken
// for a promise. Nothing when the history shows the clock stopped in time,
// restarted since (another generation) or already breached: that is the
// state check that makes a second replica, a retry or a restart append
// nothing. The ladder move follows as a reaction to the breach event (one
// path for every trigger), so a breach is one plain append.
func Breach(c *Complaint, p *policy.Policy, deadlineID string, gen int64, due, now time.Time) []Decision {
	cl := c.ClockByID(deadlineID)
	if cl == nil || cl.Generation != gen || cl.Status == ClockBreached || now.Before(due) {
		return nil
	}
	late := cl.Status == ClockRunning || ((cl.Status == ClockStopped || cl.Status == ClockPaused) && cl.Stopped.After(due))
	if !late {
		return nil
	}
	return breachOf(c, p, cl, gen, due, now)
}

// LateBreach decides the breach of a clock generation a restart has
// superseded (a late_breach reaction): the clock as it stood when it
// stopped, past its due instant.
func LateBreach(c *Complaint, p *policy.Policy, late *Clock, now time.Time) []Decision {
	if late == nil || !late.lateUnbreached() {
		return nil
	}
	return breachOf(c, p, late, late.Generation, late.Due, now)
}

// breachOf is the breach record of one clock generation.
func breachOf(c *Complaint, p *policy.Policy, cl *Clock, gen int64, due, now time.Time) []Decision {
	deadlineID := cl.ID
	g := fmt.Sprint(gen)
	if cl.Clock == policy.ClockPromise {
		return []Decision{{ID: DerivedID("promise_broken", deadlineID, g), Payload: &complaintv1.PromiseBroken{
			PromiseId: cl.Key, AgentId: cl.Agent, DueAt: timestamppb.New(due), Description: cl.Description,
			DeadlineId: deadlineID, Generation: gen,
		}}}
	}
	b := &complaintv1.DeadlineBreached{DeadlineId: deadlineID, Clock: ClockEnum(cl.Clock), DueAt: timestamppb.New(due),
		BreachedAt: timestamppb.New(now), Generation: gen, LevelId: c.CurrentLevel(p)}
	if !cl.Target.IsZero() {
		b.Target = durationpb.New(cl.Target.Sub(cl.Start))
	}
	return []Decision{{ID: DerivedID("breach", deadlineID, g), Payload: b}}
}

// Warn decides the at-risk record of a clock that reached its warning point:
// RiskFlagged with signal sla_at_risk, once per clock generation.
func Warn(c *Complaint, deadlineID string, gen int64, due time.Time) []Decision {
	cl := c.ClockByID(deadlineID)
	if cl == nil || cl.Generation != gen || cl.Status != ClockRunning || cl.Warned {
		return nil
	}
	return []Decision{{ID: DerivedID("at_risk", deadlineID, fmt.Sprint(gen)), Payload: &complaintv1.RiskFlagged{
		Signal:   &complaintv1.RiskSignal{Code: "sla_at_risk", Evidence: string(cl.Clock) + " due " + due.UTC().Format(time.RFC3339)},
		Severity: SeverityEnum(c.Severity), DeadlineId: deadlineID, Clock: ClockEnum(cl.Clock), DueAt: timestamppb.New(due), Generation: gen,
	}}}
}

// Escalate decides an automatic ladder move for a reaction: ComplaintEscalated
// when a trigger lifts the complaint above its current level.
func Escalate(c *Complaint, p *policy.Policy, r Reaction) ([]Decision, *Step) {
	if c.Status == StatusClosed || c.ShopID == "" {
		return nil, nil
	}
	level := c.CurrentLevel(p)
	var step policy.EscalationStep
	var facts policy.EscalationFacts
	ok := false
	for _, f := range append([]policy.EscalationFacts{r.Facts}, r.Alt...) {
		s, k := p.Escalate(level, f)
		if k && (!ok || LevelIndex(p, s.To.ID) > LevelIndex(p, step.To.ID)) {
			step, facts, ok = s, f, true
		}
	}
	if !ok {
		return nil, nil
	}
	trig := triggerEnum(facts.Event)
	from, _ := p.Level(level)
	ce := &complaintv1.ComplaintEscalated{
		FromLevel: LevelEnum(p, level), ToLevel: LevelEnum(p, step.To.ID), Trigger: trig, Reason: reasonFor(facts),
		Queue: step.To.Queue, FromLevelId: level, ToLevelId: step.To.ID, CauseEventId: r.CauseEvent, DeadlineId: r.DeadlineID,
	}
	if facts.Clock != "" {
		ce.Clock = ClockEnum(facts.Clock)
	}
	return []Decision{{ID: DerivedID("escalated", r.ID), Payload: ce}}, &Step{From: from, To: step.To, Alert: step.Alert, Trigger: trig}
}

// Manual decides a supervisor's move to level to ("" = one step in the
// direction). up says whether it must go up (escalate) or down (de-escalate).
func Manual(c *Complaint, p *policy.Policy, to string, up bool, reason string) (*complaintv1.ComplaintEscalated, *Step, error) {
	if c.ShopID == "" {
		return nil, nil, ErrNotFound
	}
	if c.Status == StatusClosed {
		return nil, nil, ErrClosed
	}
	level := c.CurrentLevel(p)
	cur := LevelIndex(p, level)
	var target policy.Level
	switch {
	case to == "" && up:
		if cur+1 >= len(p.Escalation.Levels) {
			return nil, nil, fmt.Errorf("%w: already at the top level %q", ErrWrongWay, level)
		}
		target = p.Escalation.Levels[cur+1]
	case to == "":
		if cur == 0 {
			return nil, nil, fmt.Errorf("%w: already at the lowest level %q", ErrWrongWay, level)
		}
		target = p.Escalation.Levels[cur-1]
	default:
		l, ok := p.Level(to)
		if !ok {
			return nil, nil, fmt.Errorf("%w %q", ErrUnknownLevel, to)
		}
		if i := LevelIndex(p, to); (up && i <= cur) || (!up && i >= cur) {
			dir := "above"
			if !up {
				dir = "below"
			}
			return nil, nil, fmt.Errorf("%w: %q is not %s the current level %q", ErrWrongWay, to, dir, level)
		}
		target = l
	}
	from, _ := p.Level(level)
	return &complaintv1.ComplaintEscalated{
		FromLevel: LevelEnum(p, level), ToLevel: LevelEnum(p, target.ID), Trigger: complaintv1.EscalationTrigger_ESCALATION_TRIGGER_MANUAL,
		Reason: reason, Queue: target.Queue, FromLevelId: level, ToLevelId: target.ID,
	}, &Step{From: from, To: target, Alert: up && target.Alert, Trigger: complaintv1.EscalationTrigger_ESCALATION_TRIGGER_MANUAL}, nil
}

// ValidateReason checks a manual move's reason.
func ValidateReason(reason string) string {
	switch {
	case !utf8.ValidString(reason):
		return "must be valid UTF-8"
	case reason == "":
		return "is required: say why the level changes"
	case utf8.RuneCountInString(reason) > 500:
		return "is longer than 500 characters"
	}
	return ""
}

func triggerEnum(e policy.TriggerEvent) complaintv1.EscalationTrigger {
	switch e {
	case policy.TriggerBreach:
		return complaintv1.EscalationTrigger_ESCALATION_TRIGGER_BREACH
	case policy.TriggerSeverity:
		return complaintv1.EscalationTrigger_ESCALATION_TRIGGER_SEVERITY
	case policy.TriggerSignal:
		return complaintv1.EscalationTrigger_ESCALATION_TRIGGER_SIGNAL
	case policy.TriggerRepeatContacts:
		return complaintv1.EscalationTrigger_ESCALATION_TRIGGER_REPEAT_CONTACTS
	case policy.TriggerTransfers:
		return complaintv1.EscalationTrigger_ESCALATION_TRIGGER_TRANSFERS
	case policy.TriggerPromiseBroken:
		return complaintv1.EscalationTrigger_ESCALATION_TRIGGER_BROKEN_PROMISE
	case policy.TriggerDissatisfiedFollowUp:
		return complaintv1.EscalationTrigger_ESCALATION_TRIGGER_DISSATISFIED
	}
	return complaintv1.EscalationTrigger_ESCALATION_TRIGGER_UNSPECIFIED
}

func reasonFor(f policy.EscalationFacts) string {
	switch f.Event {
	case policy.TriggerSeverity:
		return fmt.Sprintf("severity %s on arrival / 重大客诉立即升级", f.Severity)
	case policy.TriggerSignal:
		return fmt.Sprintf("risk signals %v / 风险信号", f.Signals)
	case policy.TriggerRepeatContacts:
		return fmt.Sprintf("%d repeat contacts / 多次进线 %d 次", f.Count, f.Count)
	case policy.TriggerTransfers:
		return fmt.Sprintf("transferred %d times / 转派 %d 次", f.Count, f.Count)
	case policy.TriggerDissatisfiedFollowUp:
		return "dissatisfied at follow-up / 回访不满意"
	case policy.TriggerPromiseBroken:
		return "promise broken / 承诺未兑现"
	case policy.TriggerBreach:
		return fmt.Sprintf("%s deadline passed / %s 超时", f.Clock, clockZh(f.Clock))
	}
	return string(f.Event)
}

func clockZh(c policy.Clock) string {
	switch c {
	case policy.ClockFirstResponse:
		return "首次响应"
	case policy.ClockNextResponse:
		return "再次响应"
	case policy.ClockResolution:
		return "解决时限"
	case policy.ClockODR:
		return "12315 ODR 时限"
	case policy.ClockPromise:
		return "承诺时限"
	case policy.ClockFollowUp:
		return "回访时限"
	}
	return string(c)
}

// ClockZh names a clock in Chinese for alerts.
func ClockZh(c policy.Clock) string { return clockZh(c) }
