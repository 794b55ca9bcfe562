package domain

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/policy"
)

// Actor is who runs a command, as the domain needs it.
type Actor struct {
	ID string
	// Manager: a supervisor, PR or admin, who may act on any complaint and
	// for any agent.
	Manager bool
	// Tier is the agent tier (0 for a manager).
	Tier int
	// Cap is the most the actor may grant: the tier's refund cap, or the
	// supervisor cap for a manager.
	Cap policy.Cap
}

// Limits on free text, in characters.
const (
	MaxReason      = 500
	MaxDescription = 1000
	MaxPromise     = 30 * 24 * time.Hour
)

func textField(v *violations, field, s string, required bool, max int) {
	switch {
	case required && strings.TrimSpace(s) == "":
		v.add(field, "required")
	case !utf8.ValidString(s):
		v.add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		v.add(field, fmt.Sprintf("at most %d characters", max))
	}
}

// open refuses commands on a complaint that is not open.
func open(w *Work) error {
	switch {
	case !w.Exists():
		return ErrNotFound
	case w.Status == StatusResolved:
		return stateErr("RESOLVED", "complaint %s is resolved; it must be reopened first", w.ComplaintID)
	case w.Status == StatusClosed:
		return stateErr("CLOSED", "complaint %s is closed", w.ComplaintID)
	}
	return nil
}

// handling checks the actor may work on the complaint: its owner, or a manager.
func handling(w *Work, a Actor) error {
	if err := open(w); err != nil {
		return err
	}
	if a.Manager || w.Owner == a.ID {
		return nil
	}
	if w.Owner == "" {
		return stateErr("UNASSIGNED", "complaint %s is not assigned to you: claim it first", w.ComplaintID)
	}
	return permErr("NOT_OWNER", "complaint %s is assigned to %s, not to you", w.ComplaintID, w.Owner)
}

// placeable checks target may take the complaint: skills, tier, shop,
// presence and capacity.
func placeable(w *Work, pol *policy.Policy, queue string, tier int, target *Agent) error {
	switch {
	case !target.HasSkill(queue):
		return permErr("NO_SKILL", "agent %s does not work queue %s", target.ID, queue)
	case target.Tier < tier:
		return permErr("TIER_TOO_LOW", "queue %s needs tier %d for this complaint; agent %s is tier %d", queue, tier, target.ID, target.Tier)
	case !target.InShop(w.ShopID):
		return permErr("OTHER_SHOP", "agent %s does not work for shop %s", target.ID, w.ShopID)
	case target.Presence == PresenceOffline:
		return stateErr("OFFLINE", "agent %s is offline", target.ID)
	case target.Load >= target.CapacityIn(pol, queue):
		return stateErr("AT_CAPACITY", "agent %s holds %d open complaints, the most allowed in queue %s", target.ID, target.Load, queue)
	}
	return nil
}

// Claim assigns the complaint to target: the caller claiming it, or a
// manager assigning it.
func Claim(w *Work, pol *policy.Policy, a Actor, target *Agent) ([]proto.Message, error) {
	if err := open(w); err != nil {
		return nil, err
	}
	if !a.Manager && target.ID != a.ID {
		return nil, permErr("NOT_SELF", "an agent claims only for themselves")
	}
	switch {
	case w.Owner == target.ID:
		return nil, stateErr("ALREADY_ASSIGNED", "complaint %s is already assigned to %s", w.ComplaintID, target.ID)
	case w.Owner != "":
		return nil, stateErr("ASSIGNED", "complaint %s is already assigned to %s", w.ComplaintID, w.Owner)
	case w.Queue == "":
		return nil, stateErr("NOT_ROUTED", "complaint %s is not in a queue yet", w.ComplaintID)
	}
	if err := placeable(w, pol, w.Queue, w.Tier, target); err != nil {
		return nil, err
	}
	mode := complaintv1.AssignmentMode_ASSIGNMENT_MODE_CLAIM
	if target.ID != a.ID {
		mode = complaintv1.AssignmentMode_ASSIGNMENT_MODE_SUPERVISOR
	}
	return []proto.Message{&complaintv1.ComplaintAssigned{AgentId: target.ID, Queue: w.Queue, Mode: mode, AgentTier: int32(target.Tier)}}, nil
}

// Release gives the complaint back to its queue.
func Release(w *Work, a Actor, reason string) ([]proto.Message, error) {
	var v violations
	textField(&v, "reason", reason, false, MaxReason)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := handling(w, a); err != nil {
		return nil, err
	}
	if w.Owner == "" {
		return nil, stateErr("UNASSIGNED", "complaint %s is not assigned", w.ComplaintID)
	}
	r := "released"
	if strings.TrimSpace(reason) != "" {
		r += ": " + strings.TrimSpace(reason)
	}
	return []proto.Message{&complaintv1.ComplaintUnassigned{AgentId: w.Owner, Reason: r}}, nil
}

// Transfer passes the complaint to another agent and/or queue. The count
// is kept on the event: being passed around turns an ordinary complaint
// into a major one (seed 002), and intake/escalation read it as a risk signal.
func Transfer(w *Work, pol *policy.Policy, a Actor, toAgent *Agent, toQueue, reason string) ([]proto.Message, error) {
	var v violations
	textField(&v, "reason", reason, true, MaxReason)
	if toAgent == nil && toQueue == "" {
		v.add("to_agent_id", "to_agent_id or to_queue is required")
	}
	var q policy.Queue
	if toQueue != "" {
		var ok bool
		if q, ok = pol.Queue(toQueue); !ok {
			v.add("to_queue", fmt.Sprintf("unknown queue %q", toQueue))
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := handling(w, a); err != nil {
		return nil, err
	}
	dest, tier := w.Queue, w.Tier
	if toQueue != "" {
		dest, tier = toQueue, max(w.Tier, q.MinTier)
	}
	if toAgent != nil {
		if toAgent.ID == w.Owner {
			return nil, stateErr("ALREADY_ASSIGNED", "complaint %s is already assigned to %s", w.ComplaintID, toAgent.ID)
		}
		if err := placeable(w, pol, dest, tier, toAgent); err != nil {
			return nil, err
		}
	} else if dest == w.Queue {
		return nil, stateErr("SAME_QUEUE", "complaint %s is already in queue %s", w.ComplaintID, dest)
	}
	var out []proto.Message
	if dest != w.Queue || tier != w.Tier {
		out = append(out, &complaintv1.ComplaintRouted{Queue: dest, TierRequired: int32(tier), Priority: int32(w.Priority),
			Rule: "transfer", Reason: "transferred: " + strings.TrimSpace(reason), Skills: []string{dest}})
	}
	t := &complaintv1.ComplaintTransferred{FromAgentId: w.Owner, FromQueue: w.Queue, ToQueue: dest,
		Reason: strings.TrimSpace(reason), TransferCount: int32(w.TransferCount + 1)}
	if toAgent != nil {
		t.ToAgentId = toAgent.ID
	}
	return append(out, t), nil
}

// Respond records a reply. The first response is measured from filing,
// later ones from the customer's last contact.
func Respond(w *Work, a Actor, channel complaintv1.Channel, now time.Time) ([]proto.Message, error) {
	if _, ok := complaintv1.Channel_name[int32(channel)]; !ok {
		return nil, &ValidationError{Violations: []Violation{{"channel", "unknown channel"}}}
	}
	if err := handling(w, a); err != nil {
		return nil, err
	}
	if channel == complaintv1.Channel_CHANNEL_UNSPECIFIED {
		channel = w.Channel
	}
	first := w.FirstResponseAt.IsZero()
	from := w.LastContactAt
	if first {
		from = w.FiledAt
	}
	secs := int64(now.Sub(from) / time.Second)
	return []proto.Message{&complaintv1.AgentResponded{AgentId: a.ID, Channel: channel, FirstResponse: first, ResponseSeconds: max(secs, 0)}}, nil
}

// MakePromise records what the agent promised and by when.
func MakePromise(w *Work, a Actor, id, description string, due, now time.Time) ([]proto.Message, error) {
	var v violations
	textField(&v, "description", description, true, MaxDescription)
	switch {
	case due.IsZero():
		v.add("due_at", "due_at or within is required")
	case !due.After(now):
		v.add("due_at", "must be in the future")
	case due.Sub(now) > MaxPromise:
		v.add("due_at", "must be within 30 days")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := handling(w, a); err != nil {
		return nil, err
	}
	return []proto.Message{&complaintv1.PromiseMade{PromiseId: id, AgentId: a.ID, Description: strings.TrimSpace(description), DueAt: timestamppb.New(due)}}, nil
}

// monetary remedies need an amount.
func monetary(k complaintv1.RemedyKind) bool {
	switch k {
	case complaintv1.RemedyKind_REMEDY_KIND_REFUND, complaintv1.RemedyKind_REMEDY_KIND_COMPENSATION,
		complaintv1.RemedyKind_REMEDY_KIND_REFUND_TRIPLE, complaintv1.RemedyKind_REMEDY_KIND_REFUND_TENFOLD:
		return true
	}
	return false
}

// MaxRemedyFen bounds an amount (10 million yuan) so sums cannot overflow.
const MaxRemedyFen = 1_000_000_000

// ProposeRemedy offers a remedy. Within the proposer's own cap it is
// approved in the same batch: a tier-1 agent settles a 20-yuan price
// difference without waiting for anyone.
func ProposeRemedy(w *Work, a Actor, role, id string, kind complaintv1.RemedyKind, amount int64, note string) ([]proto.Message, error) {
	var v violations
	if _, ok := complaintv1.RemedyKind_name[int32(kind)]; !ok || kind == complaintv1.RemedyKind_REMEDY_KIND_UNSPECIFIED {
		v.add("kind", "required: refund, exchange, return, compensation, apology, …")
	}
	switch {
	case amount < 0:
		v.add("amount_fen", "must be ≥ 0")
	case amount > MaxRemedyFen:
		v.add("amount_fen", "must be at most 10000000 yuan")
	case amount == 0 && monetary(kind):
		v.add("amount_fen", "required for a refund or compensation")
	}
	textField(&v, "note", note, false, MaxDescription)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := handling(w, a); err != nil {
		return nil, err
	}
	capFen := int64(a.Cap.Amount)
	if a.Cap.Unlimited {
		capFen = -1
	}
	out := []proto.Message{&complaintv1.RemedyProposed{RemedyId: id, Kind: kind, AmountFen: amount, Note: strings.TrimSpace(note),
		ProposedBy: a.ID, ProposerCapFen: capFen}}
	if a.Cap.Allows(policy.Fen(amount)) {
		out = append(out, &complaintv1.RemedyApproved{RemedyId: id, ApprovedBy: a.ID, ApproverRole: role, AmountFen: amount})
	}
	return out, nil
}

func pendingRemedy(w *Work, id string) (*Remedy, error) {
	r := w.Remedies[id]
	switch {
	case r == nil:
		return nil, &NotFoundError{Kind: "remedy", Name: id}
	case r.State == RemedyApproved:
		return nil, stateErr("REMEDY_DECIDED", "remedy %s is already approved", id)
	case r.State == RemedyRejected:
		return nil, stateErr("REMEDY_DECIDED", "remedy %s is already rejected", id)
	}
	return r, nil
}

// ApproveRemedy approves a proposed remedy within the approver's cap: an
// agent may never grant what their tier may not.
func ApproveRemedy(w *Work, a Actor, role, id string) ([]proto.Message, error) {
	if err := open(w); err != nil {
		return nil, err
	}
	r, err := pendingRemedy(w, id)
	if err != nil {
		return nil, err
	}
	if !a.Cap.Allows(policy.Fen(r.AmountFen)) {
		who := fmt.Sprintf("tier %d", a.Tier)
		if a.Manager {
			who = "your role"
		}
		return nil, permErr("ABOVE_TIER_CAP", "%s may approve up to %s yuan; this remedy is %s yuan: a supervisor must approve it",
			who, a.Cap, policy.Fen(r.AmountFen))
	}
	return []proto.Message{&complaintv1.RemedyApproved{RemedyId: id, ApprovedBy: a.ID, ApproverRole: role, AmountFen: r.AmountFen}}, nil
}

// RejectRemedy rejects a proposed remedy; the owner, the proposer, or anyone
// who could have approved it may.
func RejectRemedy(w *Work, a Actor, id, reason string) ([]proto.Message, error) {
	var v violations
	textField(&v, "reason", reason, true, MaxReason)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := open(w); err != nil {
		return nil, err
	}
	r, err := pendingRemedy(w, id)
	if err != nil {
		return nil, err
	}
	if !a.Manager && a.ID != w.Owner && a.ID != r.ProposedBy && !a.Cap.Allows(policy.Fen(r.AmountFen)) {
		return nil, permErr("ABOVE_TIER_CAP", "only the owner, the proposer, or someone who may approve %s yuan rejects this remedy", policy.Fen(r.AmountFen))
	}
	return []proto.Message{&complaintv1.RemedyRejected{RemedyId: id, RejectedBy: a.ID, Reason: strings.TrimSpace(reason)}}, nil
}

// returnOrRefund reports whether the complaint asks for a return or refund,
// where the outcome must say whether the customer kept the item (asking why
// and explaining keeps about 20% of would-be returns, seed 003).
func returnOrRefund(w *Work, r *Remedy) bool {
	is := func(k complaintv1.RemedyKind) bool {
		switch k {
		case complaintv1.RemedyKind_REMEDY_KIND_REFUND, complaintv1.RemedyKind_REMEDY_KIND_RETURN,
			complaintv1.RemedyKind_REMEDY_KIND_REFUND_TRIPLE, complaintv1.RemedyKind_REMEDY_KIND_REFUND_TENFOLD:
			return true
		}
		return false
	}
	if r != nil && is(r.Kind) {
		return true
	}
	for _, k := range w.ExpectedRemedies {
		if is(k) {
			return true
		}
	}
	return false
}

// Resolve records the outcome.
func Resolve(w *Work, a Actor, outcome complaintv1.ResolutionOutcome, remedyID, summary string, retention complaintv1.Retention) ([]proto.Message, error) {
	var v violations
	if _, ok := complaintv1.ResolutionOutcome_name[int32(outcome)]; !ok || outcome == complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_UNSPECIFIED {
		v.add("outcome", "required: remedy_granted, explained, claim_rejected or withdrawn")
	}
	if _, ok := complaintv1.Retention_name[int32(retention)]; !ok {
		v.add("retention", "unknown retention")
	}
	if outcome == complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_REMEDY_GRANTED && remedyID == "" {
		v.add("remedy_id", "required when the outcome grants a remedy")
	}
	textField(&v, "summary", summary, false, MaxDescription)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := handling(w, a); err != nil {
		return nil, err
	}
	var r *Remedy
	if remedyID != "" {
		r = w.Remedies[remedyID]
		switch {
		case r == nil:
			return nil, &NotFoundError{Kind: "remedy", Name: remedyID}
		case r.State != RemedyApproved:
			return nil, stateErr("REMEDY_NOT_APPROVED", "remedy %s is not approved: it cannot settle the complaint", remedyID)
		}
	}
	if returnOrRefund(w, r) && (retention == complaintv1.Retention_RETENTION_UNSPECIFIED || retention == complaintv1.Retention_RETENTION_NOT_APPLICABLE) {
		return nil, &ValidationError{Violations: []Violation{{"retention", "required for a return or refund request: kept or returned"}}}
	}
	if retention == complaintv1.Retention_RETENTION_UNSPECIFIED {
		retention = complaintv1.Retention_RETENTION_NOT_APPLICABLE
	}
	res := &complaintv1.ComplaintResolved{Outcome: outcome, RemedyId: remedyID, Summary: strings.TrimSpace(summary), ResolvedBy: a.ID, Retention: retention}
	if r != nil {
		res.RemedyKind, res.RemedyAmountFen = r.Kind, r.AmountFen
	}
	return []proto.Message{res}, nil
}

// NotFoundError names what is missing.
type NotFoundError struct{ Kind, Name string }

func (e *NotFoundError) Error() string { return e.Kind + " " + e.Name + " not found" }

// Is makes errors.Is(err, ErrNotFound) hold.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }
