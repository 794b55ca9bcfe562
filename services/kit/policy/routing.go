package policy

import "slices"

// RouteMatch is what a routing rule matches. Every condition set must hold;
// an empty match matches everything.
type RouteMatch struct {
	Categories  []string
	Channels    []string
	MinSeverity Severity // "" for any
	VIP         *bool    // nil for either
	// MinAmount and MaxAmount bound the amount in dispute, both inclusive.
	MinAmount, MaxAmount *Fen
	// MinTierNeeded matches when the amount needs at least this tier's refund
	// cap (a supervisor counts as one above the top tier).
	MinTierNeeded int
}

// RouteRule sends matching complaints to a queue.
type RouteRule struct {
	Name     string
	Match    RouteMatch
	Queue    string
	Priority int
	// Tier is the agent tier the complaint needs; 0 lets Route work it out.
	Tier int
}

// Routing holds the rules; the first matching rule wins.
type Routing struct {
	DefaultQueue    string
	DefaultPriority int
	Rules           []RouteRule
}

// RouteInput is what routing knows about a complaint.
type RouteInput struct {
	Category string
	Channel  string
	Severity Severity
	VIP      bool
	// Amount is the money in dispute (0 when none).
	Amount Fen
}

// RouteDecision is where a complaint goes.
type RouteDecision struct {
	Queue    string
	Priority int
	// Tier is the rule's tier, else the higher of the queue's minimum tier and
	// the tier the amount needs (the top tier when only a supervisor can approve).
	Tier int
	// Rule names the rule that matched, "default" when none did.
	Rule string
}

// tierNeeded counts a supervisor as one above the top tier.
func (p *Policy) tierNeeded(amount Fen) int {
	if l, ok := p.TierNeeded(amount); ok {
		return l
	}
	return len(p.Tiers) + 1
}

// Route places a complaint: the first rule whose match holds, else the
// default queue.
func (p *Policy) Route(in RouteInput) RouteDecision {
	need := p.tierNeeded(in.Amount)
	for _, r := range p.Routing.Rules {
		if !r.Match.holds(in, need) {
			continue
		}
		return RouteDecision{Queue: r.Queue, Priority: r.Priority, Tier: p.decideTier(r.Tier, r.Queue, need), Rule: r.Name}
	}
	q := p.Routing.DefaultQueue
	return RouteDecision{Queue: q, Priority: p.Routing.DefaultPriority, Tier: p.decideTier(0, q, need), Rule: "default"}
}

func (p *Policy) decideTier(ruleTier int, queue string, need int) int {
	if ruleTier > 0 {
		return ruleTier
	}
	t := need
	if q, ok := p.Queue(queue); ok && q.MinTier > t {
		t = q.MinTier
	}
	return min(t, len(p.Tiers))
}

func (m RouteMatch) holds(in RouteInput, need int) bool {
	if len(m.Categories) > 0 && !slices.Contains(m.Categories, in.Category) {
		return false
	}
	if len(m.Channels) > 0 && !slices.Contains(m.Channels, in.Channel) {
		return false
	}
	if m.MinSeverity != "" && !in.Severity.AtLeast(m.MinSeverity) {
		return false
	}
	if m.VIP != nil && *m.VIP != in.VIP {
		return false
	}
	if m.MinAmount != nil && in.Amount < *m.MinAmount {
		return false
	}
	if m.MaxAmount != nil && in.Amount > *m.MaxAmount {
		return false
	}
	return need >= m.MinTierNeeded
}
