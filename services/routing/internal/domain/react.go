package domain

import (
	"time"

	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/policy"
)

// Reasons routing writes on ComplaintUnassigned.
const (
	UnassignedOffline     = "agent_offline"     // offline past the grace period with unstarted work
	UnassignedUnavailable = "owner_unavailable" // repeat contact while the owner is away or offline
	UnassignedRerouted    = "rerouted"          // moved to a queue the owner does not work
)

// Rules routing records on ComplaintRouted besides the policy's rule names.
const (
	RuleEscalation = "escalation"
	RuleReopened   = "reopened"
	RuleTransfer   = "transfer"
)

// React decides routing's reaction to another event of the complaint: w is
// the complaint now (its whole stream), statusBefore its status just before
// cause. The decision is idempotent: once its events are in the stream,
// reacting to the same cause again decides nothing, so a redelivered event
// changes nothing.
func React(w *Work, statusBefore Status, cause *complaintv1.Event, pol *policy.Policy, pool *Pool) []proto.Message {
	if w.Status != StatusOpen {
		return nil
	}
	switch p := cause.GetPayload().(type) {
	case *complaintv1.Event_ComplaintClassified:
		return onClassified(w, pol, pool)
	case *complaintv1.Event_ContactAdded:
		// On a resolved or closed complaint followup reopens it, and routing
		// reacts to the ComplaintReopened instead.
		if statusBefore != StatusOpen {
			return nil
		}
		return onContact(w, pol, pool)
	case *complaintv1.Event_ComplaintEscalated:
		return onEscalated(w, p.ComplaintEscalated, pol, pool)
	case *complaintv1.Event_ComplaintReopened:
		return onReopened(w, p.ComplaintReopened, cause.GetEventId(), pol, pool)
	case *complaintv1.Event_ComplaintUnassigned:
		return place(w, pol, pool, "", p.ComplaintUnassigned.GetAgentId())
	case *complaintv1.Event_ComplaintTransferred:
		if p.ComplaintTransferred.GetToAgentId() == "" {
			return place(w, pol, pool, "", p.ComplaintTransferred.GetFromAgentId())
		}
	}
	return nil
}

// routeTo returns the ComplaintRouted moving w, applied to w, or nil when w
// is there already.
func routeTo(w *Work, queue string, tier, priority int, rule, reason string) []proto.Message {
	if w.Queue == queue && w.Tier == tier && w.Rule == rule && w.Priority == priority {
		return nil
	}
	r := &complaintv1.ComplaintRouted{Queue: queue, TierRequired: int32(tier), Priority: int32(priority), Rule: rule, Reason: reason, Skills: []string{queue}}
	w.Queue, w.Tier, w.Priority, w.Rule, w.RouteReason = queue, tier, priority, rule, reason
	return []proto.Message{r}
}

func onClassified(w *Work, pol *policy.Policy, pool *Pool) []proto.Message {
	d := pol.Route(w.RouteInput())
	reason := "classified"
	if w.Queue != "" {
		reason = "reclassified"
	}
	var out []proto.Message
	// A reclassification does not pull a complaint back down from the
	// queue escalation moved it to, unless the new rule ranks higher.
	if w.Rule != RuleEscalation || d.Priority > w.Priority {
		out = routeTo(w, d.Queue, d.Tier, d.Priority, d.Rule, reason)
	}
	return append(out, place(w, pol, pool, w.PreviousOwner)...)
}

func onContact(w *Work, pol *policy.Policy, pool *Pool) []proto.Message {
	if w.Owner != "" {
		if a, ok := pool.Agent(w.Owner); ok && a.Presence == PresenceOnline {
			return nil // sticky: the owner has it and sees the new contact with its history
		}
		owner := w.Owner
		out := []proto.Message{&complaintv1.ComplaintUnassigned{AgentId: owner, Reason: UnassignedUnavailable}}
		w.unassign()
		return append(out, place(w, pol, pool, "", owner)...)
	}
	return place(w, pol, pool, w.PreviousOwner)
}

func onEscalated(w *Work, e *complaintv1.ComplaintEscalated, pol *policy.Policy, pool *Pool) []proto.Message {
	q, ok := pol.Queue(e.GetQueue())
	if !ok {
		return nil
	}
	reason := "escalated"
	if e.GetReason() != "" {
		reason += ": " + e.GetReason()
	}
	out := routeTo(w, q.ID, max(w.Tier, q.MinTier), w.Priority, RuleEscalation, reason)
	if out == nil {
		return nil
	}
	return append(out, place(w, pol, pool, "")...)
}

func onReopened(w *Work, r *complaintv1.ComplaintReopened, causeID string, pol *policy.Policy, pool *Pool) []proto.Message {
	if w.Owner != "" {
		return nil
	}
	reason := "reopened"
	if r.GetReason() != "" {
		reason += ": " + r.GetReason()
	}
	// Recorded even when the queue is unchanged, so the queue shows why
	// it came back; the cause id keeps two reopenings apart.
	out := []proto.Message{}
	if w.RouteReason != reason+" ("+shortID(causeID)+")" {
		reason += " (" + shortID(causeID) + ")"
		out = append(out, &complaintv1.ComplaintRouted{Queue: w.Queue, TierRequired: int32(w.Tier), Priority: int32(w.Priority),
			Rule: RuleReopened, Reason: reason, Skills: []string{w.Queue}})
		w.Rule, w.RouteReason = RuleReopened, reason
	}
	prev := r.GetPreviousOwner()
	if prev == "" {
		prev = w.PreviousOwner
	}
	return append(out, place(w, pol, pool, prev)...)
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[len(id)-8:]
	}
	return id
}

// place keeps the owner if they still fit the queue, otherwise frees it and
// assigns: to prefer (the previous owner: sticky) when online and fitting,
// else to the least loaded free agent of the queue.
func place(w *Work, pol *policy.Policy, pool *Pool, prefer string, exclude ...string) []proto.Message {
	if w.Queue == "" || w.Status != StatusOpen {
		return nil
	}
	var out []proto.Message
	if w.Owner != "" {
		if a, ok := pool.Agent(w.Owner); ok && a.Fits(w.Queue, w.Tier, w.ShopID) {
			return nil
		}
		owner := w.Owner
		out = append(out, &complaintv1.ComplaintUnassigned{AgentId: owner, Reason: UnassignedRerouted})
		w.unassign()
		exclude = append(exclude, owner)
	}
	// Stickiness wins over capacity: the previous owner knows the story,
	// and retelling it is what turns a complaint into a major one (seed 002).
	if prefer != "" {
		if a, ok := pool.Agent(prefer); ok && a.Presence == PresenceOnline && a.Fits(w.Queue, w.Tier, w.ShopID) {
			return append(out, &complaintv1.ComplaintAssigned{AgentId: a.ID, Queue: w.Queue,
				Mode: complaintv1.AssignmentMode_ASSIGNMENT_MODE_STICKY, AgentTier: int32(a.Tier)})
		}
	}
	if a, ok := pool.Pick(pol, w.Queue, w.Tier, w.ShopID, exclude...); ok {
		out = append(out, &complaintv1.ComplaintAssigned{AgentId: a.ID, Queue: w.Queue,
			Mode: complaintv1.AssignmentMode_ASSIGNMENT_MODE_AUTO, AgentTier: int32(a.Tier)})
	}
	return out
}

// ReleaseUnstarted frees work an offline agent has not started once the
// grace period has passed: it goes back to the queue with its history.
func ReleaseUnstarted(w *Work, owner *Agent, grace time.Duration, now time.Time) []proto.Message {
	if w.Status != StatusOpen || w.Owner == "" || owner == nil || w.Owner != owner.ID || w.Started {
		return nil
	}
	if owner.Presence != PresenceOffline || now.Sub(owner.PresenceSince) < grace {
		return nil
	}
	return []proto.Message{&complaintv1.ComplaintUnassigned{AgentId: owner.ID, Reason: UnassignedOffline}}
}
