package domain

import (
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"

	"github.com/kesu315/kesu/services/kit/policy"
)

// Presence is whether an agent takes work (values match kesu.routing.v1.Presence).
type Presence int

// Presences.
const (
	PresenceUnknown Presence = iota
	PresenceOnline           // takes new work
	PresenceAway             // keeps their work, takes no new work
	PresenceOffline          // unstarted work is released after the grace period
)

func (p Presence) String() string {
	switch p {
	case PresenceOnline:
		return "online"
	case PresenceAway:
		return "away"
	case PresenceOffline:
		return "offline"
	}
	return "unknown"
}

// Agent is one member of the roster with the load the projection counts.
type Agent struct {
	ID            string
	Name          string
	Tier          int
	Skills        []string
	Capacity      int
	Shops         []string
	Presence      Presence
	PresenceSince time.Time
	// Load is the open complaints the agent holds.
	Load int
}

// HasSkill reports whether the agent works queue.
func (a *Agent) HasSkill(queue string) bool { return slices.Contains(a.Skills, queue) }

// InShop reports whether the agent works for shop.
func (a *Agent) InShop(shop string) bool { return len(a.Shops) == 0 || slices.Contains(a.Shops, shop) }

// CapacityIn is how many open complaints the agent may hold while taking work
// from queue: their own capacity, bounded by the queue's max_per_agent.
func (a *Agent) CapacityIn(p *policy.Policy, queue string) int {
	c := a.Capacity
	if q, ok := p.Queue(queue); ok && q.MaxPerAgent < c {
		c = q.MaxPerAgent
	}
	return c
}

// Fits reports whether the agent may hold a complaint of queue needing tier
// (skills and tier; not presence or load).
func (a *Agent) Fits(queue string, tier int, shop string) bool {
	return a.HasSkill(queue) && a.Tier >= tier && a.InShop(shop)
}

// Free reports whether the agent is online with room in queue.
func (a *Agent) Free(p *policy.Policy, queue string) bool {
	return a.Presence == PresenceOnline && a.Load < a.CapacityIn(p, queue)
}

// Pool is the roster indexed by skill, for assignment decisions.
type Pool struct {
	mu      sync.Mutex
	byID    map[string]*Agent
	byQueue map[string][]*Agent
}

// Lock serialises decisions on a pool shared by concurrent reactions: hold
// it from the pick to the reservation of the load, so two complaints never
// take the same free slot.
func (p *Pool) Lock() { p.mu.Lock() }

// Unlock releases Lock.
func (p *Pool) Unlock() { p.mu.Unlock() }

// Reserve applies the load changes of decided events (an assignment takes
// a slot, an unassignment frees one) and returns what undoes them, for a
// decision that is not appended after all. Hold Lock for both.
func (p *Pool) Reserve(msgs []proto.Message) (undo func()) {
	var moved []*Agent
	var signs []int
	for _, m := range msgs {
		var id string
		sign := 0
		switch x := m.(type) {
		case *complaintv1.ComplaintAssigned:
			id, sign = x.GetAgentId(), 1
		case *complaintv1.ComplaintUnassigned:
			id, sign = x.GetAgentId(), -1
		}
		if a, ok := p.byID[id]; ok && sign != 0 {
			a.Load += sign
			moved, signs = append(moved, a), append(signs, sign)
		}
	}
	return func() {
		for i, a := range moved {
			a.Load -= signs[i]
		}
	}
}

// NewPool indexes agents (the pool keeps the pointers and updates Load).
func NewPool(agents []*Agent) *Pool {
	p := &Pool{byID: make(map[string]*Agent, len(agents)), byQueue: map[string][]*Agent{}}
	for _, a := range agents {
		p.byID[a.ID] = a
		for _, s := range a.Skills {
			p.byQueue[s] = append(p.byQueue[s], a)
		}
	}
	for _, list := range p.byQueue {
		slices.SortFunc(list, func(x, y *Agent) int {
			switch {
			case x.ID < y.ID:
				return -1
			case x.ID > y.ID:
				return 1
			}
			return 0
		})
	}
	return p
}

// Agent looks an agent up.
func (p *Pool) Agent(id string) (*Agent, bool) {
	a, ok := p.byID[id]
	return a, ok
}

// Len is the number of agents.
func (p *Pool) Len() int { return len(p.byID) }

// Pick chooses who gets a complaint of queue needing tier: skills first
// (only agents of the queue's skill group, of the tier or above, for the
// shop), then online with room, then the least loaded; ties go to the lower
// tier (keeping senior agents free for what only they may do), then the
// agent id, so a decision is reproducible. exclude names agents not to
// pick (the one who just gave it back).
func (p *Pool) Pick(pol *policy.Policy, queue string, tier int, shop string, exclude ...string) (*Agent, bool) {
	// The queue's bound is looked up once: the scan runs over every agent
	// of the skill group, thousands on a big floor.
	qmax := int(^uint(0) >> 1)
	if q, ok := pol.Queue(queue); ok {
		qmax = q.MaxPerAgent
	}
	var best *Agent
	for _, a := range p.byQueue[queue] {
		if a.Presence != PresenceOnline || a.Tier < tier || a.Load >= a.Capacity || a.Load >= qmax {
			continue
		}
		if best != nil && (a.Load > best.Load || (a.Load == best.Load && a.Tier >= best.Tier)) {
			continue
		}
		if len(a.Shops) > 0 && !a.InShop(shop) {
			continue
		}
		if len(exclude) > 0 && slices.Contains(exclude, a.ID) {
			continue
		}
		best = a
	}
	return best, best != nil
}

// Online counts the online agents of a queue.
func (p *Pool) Online(queue string) int {
	n := 0
	for _, a := range p.byQueue[queue] {
		if a.Presence == PresenceOnline {
			n++
		}
	}
	return n
}
