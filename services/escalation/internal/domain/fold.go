package domain

import (
	"fmt"
	"slices"
	"time"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/policy"
)

// ReactionKind is what the projection asks the poller to do about an event.
type ReactionKind string

// Reaction kinds.
const (
	// ReactEscalate evaluates the ladder with Facts and appends ComplaintEscalated
	// when a trigger lifts the complaint.
	ReactEscalate ReactionKind = "escalate"
	// ReactMajorArrived publishes the major-complaint alert.
	ReactMajorArrived ReactionKind = "major_arrived"
	// ReactSpike publishes a spike alert (raised by the projection's counters).
	ReactSpike ReactionKind = "spike"
	// ReactLateBreach appends the breach of a clock generation that stopped
	// only after it was due and was restarted before the poller recorded its
	// breach: the restart moves the deadline row to the next generation, so
	// the row can no longer fire the old one.
	ReactLateBreach ReactionKind = "late_breach"
)

// Reaction is work an event calls for beyond the clocks: escalating or
// alerting. ID is derived from the cause, so a refold yields the same ids.
type Reaction struct {
	ID          string       `json:"id"`
	Kind        ReactionKind `json:"kind"`
	ComplaintID string       `json:"complaint_id,omitempty"`
	ShopID      string       `json:"shop_id"`
	CauseEvent  string       `json:"cause_event,omitempty"`
	// CauseSeq is the complaint's last sequence once the cause was folded. A
	// complaint still at CauseSeq has had nothing appended since, so its
	// escalation for this cause cannot be stored yet: the poller may decide
	// on the projection's state instead of loading the history.
	CauseSeq uint64                 `json:"cause_seq,omitempty"`
	At       time.Time              `json:"at"`
	Facts    policy.EscalationFacts `json:"facts"`
	// Alt are other facts of the same cause; the highest move wins (a broken
	// promise is both a breach of the promise clock and a broken promise).
	Alt        []policy.EscalationFacts `json:"alt,omitempty"`
	DeadlineID string                   `json:"deadline_id,omitempty"`
	Severity   string                   `json:"severity,omitempty"`
	Category   string                   `json:"category,omitempty"`
	Product    string                   `json:"product,omitempty"`
	Count      int64                    `json:"count,omitempty"`
	Baseline   int64                    `json:"baseline,omitempty"`
	// Late is the clock generation a late_breach reaction breaches, as it
	// stood when it stopped.
	Late *Clock `json:"late,omitempty"`
}

// Effects is what one event changed.
type Effects struct {
	// Dirty holds the keys of clocks the event changed.
	Dirty     map[string]bool
	Reactions []Reaction
	// Filed is set on the complaint's first classification: the filing
	// counts towards the spike baselines.
	Filed bool
}

func (e *Effects) dirty(k string) {
	if e.Dirty == nil {
		e.Dirty = map[string]bool{}
	}
	e.Dirty[k] = true
}

// NewComplaint is an empty complaint.
func NewComplaint(id string) *Complaint {
	return &Complaint{ID: id, Status: StatusOpen, Clocks: map[string]*Clock{}}
}

// Fold replays a whole history with a policy: the refold behind the poller's
// state checks and the recompute.
func Fold(id string, events []*complaintv1.Event, seqs []uint64, p *policy.Policy) *Complaint {
	c := NewComplaint(id)
	for i, ev := range events {
		var seq uint64
		if i < len(seqs) {
			seq = seqs[i]
		}
		c.Apply(ev, seq, p)
	}
	return c
}

func eventTime(ev *complaintv1.Event) time.Time {
	if t := ev.GetOccurredAt(); t != nil && t.IsValid() && !t.AsTime().IsZero() {
		return t.AsTime()
	}
	return ev.GetRecordedAt().AsTime()
}

// Apply folds one event into the complaint. It is deterministic in the event
// and the policy: clock deadlines are placed from event times, never from now.
func (c *Complaint) Apply(ev *complaintv1.Event, seq uint64, p *policy.Policy) Effects {
	fx := c.apply(ev, seq, p)
	// A ladder evaluation no trigger of the policy holds for would decide
	// nothing at any level: not stored, it costs the poller no pass and no
	// history load (every complaint's first classification, every repeat
	// contact below the threshold, was one).
	fx.Reactions = slices.DeleteFunc(fx.Reactions, func(r Reaction) bool {
		return r.Kind == ReactEscalate && !p.MayEscalate(r.Facts) && !slices.ContainsFunc(r.Alt, p.MayEscalate)
	})
	return fx
}

func (c *Complaint) apply(ev *complaintv1.Event, seq uint64, p *policy.Policy) Effects {
	var fx Effects
	if seq != 0 && seq <= c.LastSeq {
		return fx
	}
	if seq != 0 {
		c.LastSeq = seq
	}
	at := eventTime(ev)
	if c.ShopID == "" {
		c.ShopID = ev.GetShopId()
	}
	switch pl := ev.GetPayload().(type) {
	case *complaintv1.Event_ComplaintFiled:
		f := pl.ComplaintFiled
		c.Channel = ChannelID(f.GetChannel())
		c.FiledAt = at
		for _, it := range f.GetItems() {
			prod := it.GetProductId()
			if prod == "" {
				prod = it.GetSkuId()
			}
			if prod != "" && !slices.Contains(c.Products, prod) {
				c.Products = append(c.Products, prod)
			}
		}
	case *complaintv1.Event_ComplaintClassified:
		c.classified(ev, pl.ComplaintClassified, at, p, &fx)
	case *complaintv1.Event_ContactAdded:
		c.RepeatContacts++
		if c.Status == StatusOpen {
			c.startIfIdle(p, policy.ClockNextResponse, "", at, &fx)
		}
		fx.Reactions = append(fx.Reactions, c.escalation(ev, at, policy.EscalationFacts{
			Event: policy.TriggerRepeatContacts, Count: c.RepeatContacts}))
	case *complaintv1.Event_AgentResponded:
		agent := pl.AgentResponded.GetAgentId()
		c.stop(policy.ClockFirstResponse, "", at, &fx)
		c.stop(policy.ClockNextResponse, "", at, &fx)
		for _, k := range c.sortedKeys() {
			cl := c.Clocks[k]
			if cl.Clock == policy.ClockPromise && (cl.Agent == "" || cl.Agent == agent) && at.After(cl.Start) {
				c.stop(policy.ClockPromise, cl.Key, at, &fx)
			}
		}
	case *complaintv1.Event_PromiseMade:
		pm := pl.PromiseMade
		if c.Status != StatusOpen {
			break
		}
		var due time.Time
		if pm.GetDueAt() != nil && pm.GetDueAt().IsValid() {
			due = pm.GetDueAt().AsTime()
		}
		if cl := c.start(p, policy.ClockPromise, pm.GetPromiseId(), at, due, &fx); cl != nil {
			cl.Agent, cl.Description = pm.GetAgentId(), pm.GetDescription()
		}
	case *complaintv1.Event_ComplaintTransferred:
		c.Transfers = max(c.Transfers+1, int(pl.ComplaintTransferred.GetTransferCount()))
		fx.Reactions = append(fx.Reactions, c.escalation(ev, at, policy.EscalationFacts{
			Event: policy.TriggerTransfers, Count: c.Transfers}))
	case *complaintv1.Event_ComplaintResolved:
		c.Status = StatusResolved
		c.pause(policy.ClockResolution, at, &fx)
		for _, k := range c.sortedKeys() {
			switch cl := c.Clocks[k]; cl.Clock {
			case policy.ClockFirstResponse, policy.ClockNextResponse, policy.ClockPromise, policy.ClockODR:
				c.stop(cl.Clock, cl.Key, at, &fx)
			}
		}
	case *complaintv1.Event_ComplaintReopened:
		c.Status = StatusOpen
		c.resume(policy.ClockResolution, at, &fx)
		if pl.ComplaintReopened.GetVia() == complaintv1.ReopenVia_REOPEN_VIA_NEW_CONTACT {
			c.startIfIdle(p, policy.ClockNextResponse, "", at, &fx)
		}
	case *complaintv1.Event_FollowUpScheduled:
		fu := pl.FollowUpScheduled
		if c.Status != StatusClosed {
			c.start(p, policy.ClockFollowUp, fu.GetFollowUpId(), at, time.Time{}, &fx)
		}
	case *complaintv1.Event_FollowUpAttempted:
		if pl.FollowUpAttempted.GetOutcome() == complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_REACHED {
			c.stopFollowUps(pl.FollowUpAttempted.GetFollowUpId(), at, &fx)
		}
	case *complaintv1.Event_SatisfactionRecorded:
		sr := pl.SatisfactionRecorded
		c.stopFollowUps(sr.GetFollowUpId(), at, &fx)
		if sr.GetSatisfaction() == complaintv1.Satisfaction_SATISFACTION_DISSATISFIED ||
			(sr.GetScore() > 0 && p.FollowUp.Satisfaction.Dissatisfied(int(sr.GetScore()))) {
			fx.Reactions = append(fx.Reactions, c.escalation(ev, at, policy.EscalationFacts{Event: policy.TriggerDissatisfiedFollowUp}))
		}
	case *complaintv1.Event_ComplaintClosed:
		c.Status = StatusClosed
		for _, k := range c.sortedKeys() {
			cl := c.Clocks[k]
			c.stop(cl.Clock, cl.Key, at, &fx)
		}
	case *complaintv1.Event_ComplaintEscalated:
		ce := pl.ComplaintEscalated
		if id := ce.GetToLevelId(); id != "" {
			c.LevelID = id
		} else {
			c.LevelID = levelIDOf(p, ce.GetToLevel())
		}
	case *complaintv1.Event_DeadlineBreached:
		db := pl.DeadlineBreached
		if cl := c.ClockByID(db.GetDeadlineId()); cl != nil && cl.Generation == db.GetGeneration() && cl.Status != ClockBreached {
			cl.Status, cl.Breached = ClockBreached, db.GetBreachedAt().AsTime()
			fx.dirty(ClockKey(cl.Clock, cl.Key))
		}
		r := c.escalation(ev, at, policy.EscalationFacts{Event: policy.TriggerBreach, Clock: ClockFromEnum(db.GetClock())})
		r.DeadlineID = db.GetDeadlineId()
		fx.Reactions = append(fx.Reactions, r)
	case *complaintv1.Event_PromiseBroken:
		pb := pl.PromiseBroken
		if cl := c.ClockByID(pb.GetDeadlineId()); cl != nil && cl.Generation == pb.GetGeneration() && cl.Status != ClockBreached {
			cl.Status, cl.Breached = ClockBreached, at
			fx.dirty(ClockKey(cl.Clock, cl.Key))
		}
		r := c.escalation(ev, at, policy.EscalationFacts{Event: policy.TriggerPromiseBroken})
		r.Alt = []policy.EscalationFacts{{Event: policy.TriggerBreach, Clock: policy.ClockPromise}}
		r.DeadlineID = pb.GetDeadlineId()
		fx.Reactions = append(fx.Reactions, r)
	case *complaintv1.Event_RiskFlagged:
		rf := pl.RiskFlagged
		if cl := c.ClockByID(rf.GetDeadlineId()); cl != nil && cl.Generation == rf.GetGeneration() && !cl.Warned {
			cl.Warned = true
			fx.dirty(ClockKey(cl.Clock, cl.Key))
		}
	}
	return fx
}

func levelIDOf(p *policy.Policy, l complaintv1.EscalationLevel) string {
	for _, lv := range p.Escalation.Levels {
		if LevelEnum(p, lv.ID) == l {
			return lv.ID
		}
	}
	return ""
}

func (c *Complaint) classified(ev *complaintv1.Event, cc *complaintv1.ComplaintClassified, at time.Time, p *policy.Policy, fx *Effects) {
	oldSev := policy.Severity(c.Severity)
	newSev := SeverityID(cc.GetSeverity())
	first := !c.Classified
	c.Classified = true
	c.Category = cc.GetCategory()
	c.Severity = string(newSev)
	if n := int(cc.GetRepeatContacts()); n > c.RepeatContacts {
		c.RepeatContacts = n
	}
	var fresh []string
	for _, s := range cc.GetRiskSignals() {
		if !slices.Contains(c.Signals, s.GetCode()) {
			c.Signals = append(c.Signals, s.GetCode())
			fresh = append(fresh, s.GetCode())
		}
	}
	if first {
		fx.Filed = true
		start := c.FiledAt
		if start.IsZero() {
			start = at
		}
		c.start(p, policy.ClockFirstResponse, "", start, time.Time{}, fx)
		c.start(p, policy.ClockResolution, "", start, time.Time{}, fx)
		c.start(p, policy.ClockODR, "", start, time.Time{}, fx)
	} else if newSev.Rank() > oldSev.Rank() {
		// A complaint judged more severe later gets the tighter targets of
		// its new severity; a clock never loosens once running.
		for _, k := range c.sortedKeys() {
			c.tighten(p, c.Clocks[k], fx)
		}
	}
	if newSev.Valid() && newSev.AtLeast(policy.SeverityMajor) && !oldSev.AtLeast(policy.SeverityMajor) {
		fx.Reactions = append(fx.Reactions, Reaction{
			ID: DerivedID("major_arrived", ev.GetEventId()), Kind: ReactMajorArrived, ComplaintID: c.ID, ShopID: c.ShopID,
			CauseEvent: ev.GetEventId(), At: at, Severity: string(newSev), Category: c.Category,
		})
	}
	if newSev.Rank() > oldSev.Rank() {
		fx.Reactions = append(fx.Reactions, c.escalation(ev, at, policy.EscalationFacts{Event: policy.TriggerSeverity, Severity: newSev}))
	}
	if len(fresh) > 0 {
		r := c.escalation(ev, at, policy.EscalationFacts{Event: policy.TriggerSignal, Signals: fresh})
		r.ID = DerivedID("escalate", ev.GetEventId(), "signal")
		fx.Reactions = append(fx.Reactions, r)
	}
}

func (c *Complaint) escalation(ev *complaintv1.Event, at time.Time, f policy.EscalationFacts) Reaction {
	return Reaction{ID: DerivedID("escalate", ev.GetEventId(), string(f.Event)), Kind: ReactEscalate, ComplaintID: c.ID,
		ShopID: c.ShopID, CauseEvent: ev.GetEventId(), CauseSeq: c.LastSeq, At: at, Facts: f, Severity: c.Severity, Category: c.Category}
}

func (c *Complaint) ctx(p *policy.Policy, at time.Time) policy.SLAContext {
	phase, _ := p.PhaseAt(c.ShopID, at)
	return policy.SLAContext{Channel: c.Channel, Category: c.Category, Severity: policy.Severity(c.Severity), Phase: phase}
}

// place computes a clock's instants from its start with the policy; due, when
// set, is a due instant the event itself names (an agent's promise).
func (c *Complaint) place(p *policy.Policy, cl *Clock, due time.Time) bool {
	ctx := c.ctx(p, cl.Start)
	cl.Phase = ctx.Phase
	sla, ok := p.ClockFor(cl.Clock, ctx)
	if !ok && due.IsZero() {
		return false
	}
	cl.Err, cl.Target, cl.Warn, cl.Due = "", time.Time{}, time.Time{}, time.Time{}
	if ok {
		d, err := p.Deadlines(c.ShopID, sla, cl.Start)
		if err != nil {
			cl.Status, cl.Err = ClockUnscheduled, err.Error()
			return true
		}
		cl.Target, cl.Warn, cl.Due = d.Target, d.Warn, d.Breach
		if !due.IsZero() {
			// The agent named the time: warn at the same share of it.
			cl.Target = time.Time{}
			cl.Warn = warnFor(sla.Warn, cl.Start, due)
			cl.Due = due
		}
	} else {
		cl.Warn, cl.Due = due, due
	}
	return true
}

func warnFor(w policy.Warn, start, due time.Time) time.Time {
	var t time.Time
	switch {
	case w.Fraction > 0:
		t = start.Add(time.Duration(float64(due.Sub(start)) * w.Fraction))
	case w.Before.Duration > 0:
		t = due.Add(-w.Before.Duration)
	default:
		t = due
	}
	if t.Before(start) {
		t = start
	}
	return t
}

func (c *Complaint) start(p *policy.Policy, clk policy.Clock, key string, at, due time.Time, fx *Effects) *Clock {
	k := ClockKey(clk, key)
	cl := c.Clocks[k]
	if cl == nil {
		cl = &Clock{ID: DeadlineID(c.ID, clk, key), Complaint: c.ID, ShopID: c.ShopID, Clock: clk, Key: key}
	} else if cl.Status == ClockBreached || cl.Status == ClockRunning {
		return nil // a breach is final; a running clock keeps its time
	} else if cl.lateUnbreached() {
		// Stopped after it was due, its breach not recorded yet: the
		// restart must not swallow it.
		late := *cl
		fx.Reactions = append(fx.Reactions, Reaction{
			ID: DerivedID("late_breach", cl.ID, fmt.Sprint(cl.Generation)), Kind: ReactLateBreach, ComplaintID: c.ID,
			ShopID: c.ShopID, At: at, DeadlineID: cl.ID, Severity: c.Severity, Category: c.Category, Late: &late,
		})
	}
	next := *cl
	next.Generation++
	next.Status, next.Start, next.Warned = ClockRunning, at, false
	next.Stopped, next.Breached, next.Remaining = time.Time{}, time.Time{}, 0
	if !c.place(p, &next, due) {
		return nil
	}
	*cl = next
	c.Clocks[k] = cl
	fx.dirty(k)
	return cl
}

// lateUnbreached says the clock stopped (or paused) only after its due
// instant and no breach of this generation is recorded.
func (cl *Clock) lateUnbreached() bool {
	return (cl.Status == ClockStopped || cl.Status == ClockPaused) && !cl.Due.IsZero() && cl.Stopped.After(cl.Due) && cl.Breached.IsZero()
}

func (c *Complaint) startIfIdle(p *policy.Policy, clk policy.Clock, key string, at time.Time, fx *Effects) {
	if cl := c.Clocks[ClockKey(clk, key)]; cl != nil && cl.Status == ClockRunning {
		return // the customer has been waiting since the earlier contact
	}
	k := ClockKey(clk, key)
	if cl := c.Clocks[k]; cl != nil && cl.Status == ClockBreached {
		// A new contact after a breached wait starts a fresh wait.
		cl.Status = ClockStopped
	}
	c.start(p, clk, key, at, time.Time{}, fx)
}

func (c *Complaint) tighten(p *policy.Policy, cl *Clock, fx *Effects) {
	if cl.Status != ClockRunning || cl.Clock == policy.ClockPromise {
		return
	}
	next := *cl
	if !c.place(p, &next, time.Time{}) || next.Status != ClockRunning || !next.Due.Before(cl.Due) {
		return
	}
	next.Generation++
	next.Warned = cl.Warned && !next.Warn.After(cl.Warn)
	*cl = next
	fx.dirty(ClockKey(cl.Clock, cl.Key))
}

func (c *Complaint) stop(clk policy.Clock, key string, at time.Time, fx *Effects) {
	k := ClockKey(clk, key)
	cl := c.Clocks[k]
	if cl == nil {
		return
	}
	switch cl.Status {
	case ClockRunning, ClockUnscheduled:
		cl.Status, cl.Stopped = ClockStopped, at
	case ClockPaused:
		cl.Status = ClockStopped
	default:
		return
	}
	fx.dirty(k)
}

func (c *Complaint) pause(clk policy.Clock, at time.Time, fx *Effects) {
	k := ClockKey(clk, "")
	cl := c.Clocks[k]
	if cl == nil || cl.Status != ClockRunning {
		return
	}
	cl.Status, cl.Stopped, cl.Remaining = ClockPaused, at, cl.Due.Sub(at)
	fx.dirty(k)
}

// resume restarts a paused clock with the time it had left, so a reopened
// complaint does not get a fresh 72 hours.
func (c *Complaint) resume(clk policy.Clock, at time.Time, fx *Effects) {
	k := ClockKey(clk, "")
	cl := c.Clocks[k]
	if cl == nil || cl.Status != ClockPaused {
		return
	}
	if !cl.Due.After(cl.Stopped) {
		return // paused only after it was due: it breaches, it does not resume
	}
	warnLead := cl.Due.Sub(cl.Warn)
	cl.Generation++
	cl.Status = ClockRunning
	cl.Due = at.Add(cl.Remaining)
	cl.Warn = cl.Due.Add(-warnLead)
	if cl.Warn.Before(at) {
		cl.Warn = at
	}
	if !cl.Target.IsZero() {
		cl.Target = cl.Target.Add(at.Sub(cl.Stopped))
	}
	cl.Stopped, cl.Remaining = time.Time{}, 0
	fx.dirty(k)
}

func (c *Complaint) stopFollowUps(id string, at time.Time, fx *Effects) {
	for _, k := range c.sortedKeys() {
		cl := c.Clocks[k]
		if cl.Clock == policy.ClockFollowUp && (id == "" || cl.Key == id) {
			c.stop(cl.Clock, cl.Key, at, fx)
		}
	}
}
