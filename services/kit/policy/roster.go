package policy

import (
	"strconv"
	"time"
)

// DefaultOfflineGrace is how long an agent may be offline before their
// unstarted work is released, when roster.offline_grace is not set.
const DefaultOfflineGrace = 5 * time.Minute

// Roster is the agents known from the policy file; the routing service may
// add and change agents through its API on top of it.
type Roster struct {
	// OfflineGrace: an agent offline this long loses their unstarted work
	// (assigned, not yet answered) back to the queue.
	OfflineGrace time.Duration
	Agents       []RosterAgent
}

// RosterAgent is one agent of the roster.
type RosterAgent struct {
	ID   string
	Name string
	// Tier is 1..len(tiers); it bounds the remedies the agent may grant.
	Tier int
	// Skills are the queues (skill groups) the agent works.
	Skills []string
	// Capacity is how many open complaints the agent holds at most (each
	// queue's max_per_agent bounds it further).
	Capacity int
	// Shops limits the agent to these shops; empty means every shop.
	Shops []string
}

type rawRoster struct {
	OfflineGrace string           `yaml:"offline_grace"`
	Agents       []rawRosterAgent `yaml:"agents"`
}

type rawRosterAgent struct {
	ID       string   `yaml:"id"`
	Name     string   `yaml:"name"`
	Tier     int      `yaml:"tier"`
	Skills   []string `yaml:"skills"`
	Capacity int      `yaml:"capacity"`
	Shops    []string `yaml:"shops"`
}

// roster checks the optional roster section: it may be absent (agents then
// come only from the routing API).
func (v *validator) roster(p *Policy, r *rawRoster, queues map[string]string) {
	p.Roster.OfflineGrace = DefaultOfflineGrace
	if r.OfflineGrace != "" {
		if d, ok := v.duration("roster.offline_grace", r.OfflineGrace, true); ok {
			p.Roster.OfflineGrace = d
		}
	}
	seen := map[string]string{}
	for i, ra := range r.Agents {
		path := idx("roster.agents", i)
		v.id(path+".id", ra.ID, idShop, seen)
		if ra.Tier < 1 || ra.Tier > len(p.Tiers) {
			v.addf(path+".tier", strconv.Itoa(ra.Tier), "no such tier (tiers 1–%d)", len(p.Tiers))
		}
		if len(ra.Skills) == 0 {
			v.add(path+".skills", "", "must list at least one queue")
		}
		v.refs(path+".skills", ra.Skills, queues, "queue")
		if ra.Capacity < 1 {
			v.add(path+".capacity", strconv.Itoa(ra.Capacity), "must be ≥ 1")
		}
		for j, s := range ra.Shops {
			if _, ok := p.shops[s]; !ok {
				v.add(idx(path+".shops", j), q(s), "unknown shop")
			}
		}
		p.Roster.Agents = append(p.Roster.Agents, RosterAgent{
			ID: ra.ID, Name: ra.Name, Tier: ra.Tier, Skills: ra.Skills, Capacity: ra.Capacity, Shops: ra.Shops,
		})
	}
}
