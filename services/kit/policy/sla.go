package policy

import (
	"fmt"
	"slices"
	"time"
)

// Clock is an SLA clock the escalation service runs.
type Clock string

// The clocks.
const (
	ClockFirstResponse Clock = "first_response" // filed -> first agent response
	ClockNextResponse  Clock = "next_response"  // repeat contact -> next response
	ClockResolution    Clock = "resolution"     // filed -> resolved (the 72-hour rate)
	ClockODR           Clock = "odr"            // 12315 ODR: contact and negotiate within 10 working days
	ClockPromise       Clock = "promise"        // promise made -> kept (default when the agent gives no time)
	ClockFollowUp      Clock = "followup"       // resolved -> follow-up call (回访) done
)

// Clocks lists every clock in a stable order.
func Clocks() []Clock {
	return []Clock{ClockFirstResponse, ClockNextResponse, ClockResolution, ClockODR, ClockPromise, ClockFollowUp}
}

// Valid reports whether c is a known clock.
func (c Clock) Valid() bool { return slices.Contains(Clocks(), c) }

// ClockSLA is one clock's effective targets.
type ClockSLA struct {
	Clock Clock
	// Target is the goal reported as an on-target rate (e.g. 30 s chat
	// answers); zero when none. It raises no event.
	Target Span
	// Limit is the breach point: past it the clock breaches and escalates.
	Limit Span
	// Warn is when to warn before the breach.
	Warn Warn
	// Channels limits the clock to complaints from these channels (the ODR
	// clock runs only for 12315 ODR cases); empty means every channel.
	Channels []string
}

// ClockPatch changes some of a clock's values; zero fields are unset.
type ClockPatch struct {
	Target Span
	Limit  Span
	Warn   Warn
}

// SLACondition is when an override applies; every condition set must hold.
type SLACondition struct {
	Channels    []string
	Categories  []string
	MinSeverity Severity
	Phases      []Phase
}

// SLAOverride tightens clocks for complaints matching When.
type SLAOverride struct {
	Name   string
	When   SLACondition
	Clocks map[Clock]ClockPatch
}

// SLA holds the clocks: base values, per-channel values that replace them,
// and overrides that can only tighten.
type SLA struct {
	Clocks    map[Clock]ClockSLA
	Channels  map[string]map[Clock]ClockPatch
	Overrides []SLAOverride
}

// SLAContext is what decides a clock's values.
type SLAContext struct {
	Channel  string
	Category string
	Severity Severity
	Phase    Phase
}

// ClockFor is a clock's effective values for a complaint: the base values,
// replaced field by field by the channel's values, then tightened by every
// matching override (the smaller target and limit win; a set warning point
// replaces the current one). ok is false when the clock does not run for the
// complaint's channel or is unknown.
func (p *Policy) ClockFor(c Clock, ctx SLAContext) (ClockSLA, bool) {
	base, ok := p.SLA.Clocks[c]
	if !ok || (len(base.Channels) > 0 && !slices.Contains(base.Channels, ctx.Channel)) {
		return ClockSLA{}, false
	}
	out := base
	if patch, ok := p.SLA.Channels[ctx.Channel][c]; ok {
		if !patch.Target.IsZero() {
			out.Target = patch.Target
		}
		if !patch.Limit.IsZero() {
			out.Limit = patch.Limit
		}
		if !patch.Warn.IsZero() {
			out.Warn = patch.Warn
		}
	}
	for _, o := range p.SLA.Overrides {
		patch, ok := o.Clocks[c]
		if !ok || !o.When.holds(ctx) {
			continue
		}
		if !patch.Target.IsZero() && (out.Target.IsZero() || patch.Target.less(out.Target)) {
			out.Target = patch.Target
		}
		if !patch.Limit.IsZero() && patch.Limit.less(out.Limit) {
			out.Limit = patch.Limit
		}
		if !patch.Warn.IsZero() {
			out.Warn = patch.Warn
		}
	}
	if !out.Target.IsZero() && out.Limit.less(out.Target) {
		out.Target = out.Limit
	}
	return out, true
}

func (c SLACondition) holds(ctx SLAContext) bool {
	if len(c.Channels) > 0 && !slices.Contains(c.Channels, ctx.Channel) {
		return false
	}
	if len(c.Categories) > 0 && !slices.Contains(c.Categories, ctx.Category) {
		return false
	}
	if c.MinSeverity != "" && !ctx.Severity.AtLeast(c.MinSeverity) {
		return false
	}
	if len(c.Phases) > 0 && !slices.Contains(c.Phases, ctx.Phase) {
		return false
	}
	return true
}

// Deadlines are a running clock's instants. Target is zero when the clock
// has no target.
type Deadlines struct {
	Start, Target, Warn, Breach time.Time
}

// Deadlines places a clock started at start for a shop: durations on the wall
// clock, working days on the holiday calendar in the shop's time zone. A
// warning point before the start is moved to the start.
func (p *Policy) Deadlines(shopID string, c ClockSLA, start time.Time) (Deadlines, error) {
	sh, ok := p.Shop(shopID)
	if !ok {
		return Deadlines{}, fmt.Errorf("%w %q", ErrUnknownShop, shopID)
	}
	d := Deadlines{Start: start}
	var err error
	if d.Breach, err = p.Calendar.add(start, c.Limit, sh.Location); err != nil {
		return Deadlines{}, fmt.Errorf("policy: %s limit: %w", c.Clock, err)
	}
	if !c.Target.IsZero() {
		if d.Target, err = p.Calendar.add(start, c.Target, sh.Location); err != nil {
			return Deadlines{}, fmt.Errorf("policy: %s target: %w", c.Clock, err)
		}
	}
	switch {
	case c.Warn.Fraction > 0:
		d.Warn = start.Add(time.Duration(float64(d.Breach.Sub(start)) * c.Warn.Fraction))
	case c.Warn.Before.InWorkingDays():
		if d.Warn, err = p.Calendar.AddWorkingDays(d.Breach, -c.Warn.Before.WorkingDays, sh.Location); err != nil {
			return Deadlines{}, fmt.Errorf("policy: %s warning: %w", c.Clock, err)
		}
	case c.Warn.Before.Duration > 0:
		d.Warn = d.Breach.Add(-c.Warn.Before.Duration)
	default:
		d.Warn = d.Breach
	}
	if d.Warn.Before(start) {
		d.Warn = start
	}
	return d, nil
}
