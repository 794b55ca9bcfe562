package policy

import "slices"

// TriggerEvent is what can escalate a complaint.
type TriggerEvent string

// The trigger events.
const (
	TriggerBreach               TriggerEvent = "breach"                // an SLA clock breached
	TriggerSeverity             TriggerEvent = "severity"              // severity judged (on arrival or re-judged)
	TriggerSignal               TriggerEvent = "signal"                // a risk signal found
	TriggerRepeatContacts       TriggerEvent = "repeat_contacts"       // a repeat contact arrived
	TriggerTransfers            TriggerEvent = "transfers"             // the complaint was transferred
	TriggerPromiseBroken        TriggerEvent = "promise_broken"        // a promise passed unkept
	TriggerDissatisfiedFollowUp TriggerEvent = "dissatisfied_followup" // follow-up found the customer dissatisfied
)

func triggerEvents() []TriggerEvent {
	return []TriggerEvent{TriggerBreach, TriggerSeverity, TriggerSignal, TriggerRepeatContacts,
		TriggerTransfers, TriggerPromiseBroken, TriggerDissatisfiedFollowUp}
}

// ToNext as a trigger target means one level above the current one.
const ToNext = "next"

// Level is one rung of the escalation ladder (agent -> supervisor ->
// platform -> pr).
type Level struct {
	ID   string
	Name DisplayName
	// Queue receives complaints escalated to this level; "" keeps them where they are.
	Queue string
	// Alert publishes an alerts.* warning for the war room on reaching the level.
	Alert bool
}

// Trigger escalates a complaint when its event happens and its conditions hold.
type Trigger struct {
	Event TriggerEvent
	// Clocks limits a breach trigger to these clocks (empty: any clock).
	Clocks []Clock
	// MinSeverity is the severity a severity trigger needs.
	MinSeverity Severity
	// Signals lists the signals a signal trigger reacts to (any of them).
	Signals []string
	// AtLeast is the count a repeat_contacts or transfers trigger needs.
	AtLeast int
	// To is a level id or ToNext.
	To string
	// Alert publishes an alerts.* warning whatever the level says.
	Alert bool
}

// Escalation holds the ladder (lowest level first) and the triggers.
type Escalation struct {
	Levels   []Level
	Triggers []Trigger
}

// EscalationFacts describe something that happened to a complaint.
type EscalationFacts struct {
	Event    TriggerEvent
	Clock    Clock    // for breach
	Severity Severity // for severity
	Signals  []string // for signal
	// Count is the repeat contacts or transfers so far.
	Count int
}

// EscalationStep is where an event takes a complaint.
type EscalationStep struct {
	To    Level
	Alert bool
	// Trigger is the index of the trigger that decided, in Escalation.Triggers.
	Trigger int
}

// Level looks a ladder level up by id.
func (p *Policy) Level(id string) (Level, bool) {
	i, ok := p.levels[id]
	if !ok {
		return Level{}, false
	}
	return p.Escalation.Levels[i], true
}

// Escalate decides whether an event lifts a complaint above its current
// level ("" = the first level): among the matching triggers the highest
// target wins. ok is false when no trigger lifts it higher.
func (p *Policy) Escalate(current string, f EscalationFacts) (step EscalationStep, ok bool) {
	cur := p.levels[current] // "" and unknown ids are the first level
	top := len(p.Escalation.Levels) - 1
	best := cur
	for ti, t := range p.Escalation.Triggers {
		if !t.holds(f) {
			continue
		}
		to := cur + 1
		if t.To != ToNext {
			to = p.levels[t.To]
		}
		to = min(to, top)
		switch {
		case to > best:
			best, ok = to, true
			step = EscalationStep{To: p.Escalation.Levels[to], Trigger: ti, Alert: t.Alert || p.Escalation.Levels[to].Alert}
		case ok && to == best && t.Alert:
			step.Alert = true
		}
	}
	return step, ok
}

// MayEscalate reports whether any trigger holds for f: when none does,
// Escalate decides nothing whatever the complaint's level.
func (p *Policy) MayEscalate(f EscalationFacts) bool {
	return slices.ContainsFunc(p.Escalation.Triggers, func(t Trigger) bool { return t.holds(f) })
}

func (t Trigger) holds(f EscalationFacts) bool {
	if t.Event != f.Event {
		return false
	}
	switch t.Event {
	case TriggerBreach:
		return len(t.Clocks) == 0 || slices.Contains(t.Clocks, f.Clock)
	case TriggerSeverity:
		return f.Severity.Valid() && f.Severity.AtLeast(t.MinSeverity)
	case TriggerSignal:
		return containsAny(f.Signals, t.Signals)
	case TriggerRepeatContacts, TriggerTransfers:
		return f.Count >= t.AtLeast
	}
	return true
}
