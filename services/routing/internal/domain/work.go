// Package domain holds routing's rules as pure functions: the work state of a
// complaint folded from its events, the decisions of every command and
// reaction, and the choice of an agent. It imports no NATS, pgx or gRPC.
package domain

import (
	"slices"
	"strings"
	"time"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/policy"
)

// Status is where a complaint is in its life (the lifecycle every projection
// agrees on).
type Status int

// Statuses.
const (
	StatusNone Status = iota // not filed (yet)
	StatusOpen
	StatusResolved
	StatusClosed
)

func (s Status) String() string {
	switch s {
	case StatusOpen:
		return "open"
	case StatusResolved:
		return "resolved"
	case StatusClosed:
		return "closed"
	}
	return "not filed"
}

// RemedyState is where a proposed remedy stands.
type RemedyState int

// Remedy states.
const (
	RemedyProposed RemedyState = iota + 1
	RemedyApproved
	RemedyRejected
)

// Remedy is a remedy proposed on a complaint.
type Remedy struct {
	ID         string
	Kind       complaintv1.RemedyKind
	AmountFen  int64
	ProposedBy string
	State      RemedyState
}

// Work is a complaint as routing needs it, folded from its whole stream.
type Work struct {
	ComplaintID string
	ShopID      string
	Channel     complaintv1.Channel
	FiledAt     time.Time
	VIP         bool
	// AmountFen is the money in dispute: the claimed amount, else the order's.
	AmountFen        int64
	ExpectedRemedies []complaintv1.RemedyKind

	Classified bool
	Category   string
	Severity   complaintv1.Severity
	Phase      string

	Queue       string
	Tier        int
	Priority    int
	Rule        string
	RouteReason string

	Status        Status
	Owner         string
	OwnerTier     int
	PreviousOwner string
	AssignedAt    time.Time
	// Started: the owner has responded since being assigned; an offline
	// owner keeps started work and loses unstarted work.
	Started       bool
	TransferCount int

	FirstResponseAt time.Time
	Contacts        int
	// LastContactAt is the latest customer contact (filing or repeat).
	LastContactAt time.Time
	// Awaiting: a contact came in after the last response.
	Awaiting bool

	Remedies    map[string]*Remedy
	RemedyOrder []string
	Promises    int

	LastSeq   uint64
	UpdatedAt time.Time
}

// Exists reports whether the complaint has been filed.
func (w *Work) Exists() bool { return w != nil && w.Status != StatusNone }

// PendingRemedies counts remedies neither approved nor rejected.
func (w *Work) PendingRemedies() int {
	n := 0
	for _, r := range w.Remedies {
		if r.State == RemedyProposed {
			n++
		}
	}
	return n
}

// Clone is a copy of w that folding more events into leaves w as it is.
func (w *Work) Clone() *Work {
	c := *w
	c.ExpectedRemedies = slices.Clone(w.ExpectedRemedies)
	c.RemedyOrder = slices.Clone(w.RemedyOrder)
	if w.Remedies != nil {
		c.Remedies = make(map[string]*Remedy, len(w.Remedies))
		for k, r := range w.Remedies {
			cp := *r
			c.Remedies[k] = &cp
		}
	}
	return &c
}

// Fold builds a complaint's work state from its history.
func Fold(evs []*complaintv1.Event, seqs []uint64) *Work {
	w := &Work{}
	for i, ev := range evs {
		var seq uint64
		if i < len(seqs) {
			seq = seqs[i]
		}
		w.Evolve(ev, seq)
	}
	return w
}

// Evolve applies one event. Events before the filing are ignored, and so is a
// second filing.
func (w *Work) Evolve(ev *complaintv1.Event, seq uint64) {
	if seq != 0 && seq <= w.LastSeq {
		return
	}
	at := ev.GetRecordedAt().AsTime()
	if f := ev.GetComplaintFiled(); f != nil {
		if w.Status != StatusNone {
			return
		}
		w.ComplaintID, w.ShopID, w.Channel = ev.GetComplaintId(), ev.GetShopId(), f.GetChannel()
		w.FiledAt, w.LastContactAt = at, at
		w.VIP = f.GetComplainant().GetVip()
		w.AmountFen = f.GetClaimedAmountFen()
		if w.AmountFen == 0 {
			w.AmountFen = f.GetOrderAmountFen()
		}
		w.ExpectedRemedies = f.GetExpectedRemedies()
		w.Status, w.Contacts, w.Awaiting = StatusOpen, 1, true
		w.Remedies = map[string]*Remedy{}
	}
	if w.Status == StatusNone {
		return
	}
	switch p := ev.GetPayload().(type) {
	case *complaintv1.Event_ComplaintClassified:
		c := p.ComplaintClassified
		w.Classified, w.Category, w.Severity, w.Phase = true, c.GetCategory(), c.GetSeverity(), c.GetPhase()
	case *complaintv1.Event_ContactAdded:
		w.Contacts++
		w.LastContactAt, w.Awaiting = at, true
	case *complaintv1.Event_RiskFlagged:
		if s := p.RiskFlagged.GetSeverity(); s > w.Severity {
			w.Severity = s
		}
	case *complaintv1.Event_ComplaintRouted:
		r := p.ComplaintRouted
		w.Queue, w.Tier, w.Priority, w.Rule, w.RouteReason = r.GetQueue(), int(r.GetTierRequired()), int(r.GetPriority()), r.GetRule(), r.GetReason()
	case *complaintv1.Event_ComplaintAssigned:
		a := p.ComplaintAssigned
		w.Owner, w.OwnerTier, w.AssignedAt, w.Started = a.GetAgentId(), int(a.GetAgentTier()), at, false
		if a.GetQueue() != "" {
			w.Queue = a.GetQueue()
		}
	case *complaintv1.Event_ComplaintUnassigned:
		w.unassign()
	case *complaintv1.Event_ComplaintTransferred:
		t := p.ComplaintTransferred
		w.TransferCount = int(t.GetTransferCount())
		w.unassign()
		if t.GetToQueue() != "" {
			w.Queue = t.GetToQueue()
		}
		if t.GetToAgentId() != "" {
			w.Owner, w.AssignedAt, w.Started = t.GetToAgentId(), at, false
		}
	case *complaintv1.Event_AgentResponded:
		r := p.AgentResponded
		if w.FirstResponseAt.IsZero() {
			w.FirstResponseAt = at
		}
		w.Awaiting = false
		if r.GetAgentId() == w.Owner {
			w.Started = true
		}
	case *complaintv1.Event_PromiseMade:
		w.Promises++
	case *complaintv1.Event_RemedyProposed:
		r := p.RemedyProposed
		if _, dup := w.Remedies[r.GetRemedyId()]; !dup {
			w.Remedies[r.GetRemedyId()] = &Remedy{ID: r.GetRemedyId(), Kind: r.GetKind(), AmountFen: r.GetAmountFen(), ProposedBy: r.GetProposedBy(), State: RemedyProposed}
			w.RemedyOrder = append(w.RemedyOrder, r.GetRemedyId())
		}
	case *complaintv1.Event_RemedyApproved:
		if r := w.Remedies[p.RemedyApproved.GetRemedyId()]; r != nil {
			r.State = RemedyApproved
		}
	case *complaintv1.Event_RemedyRejected:
		if r := w.Remedies[p.RemedyRejected.GetRemedyId()]; r != nil {
			r.State = RemedyRejected
		}
	case *complaintv1.Event_ComplaintResolved:
		w.Status = StatusResolved
		w.unassign()
	case *complaintv1.Event_ComplaintReopened:
		w.Status = StatusOpen
		if po := p.ComplaintReopened.GetPreviousOwner(); po != "" {
			w.PreviousOwner = po
		}
	case *complaintv1.Event_ComplaintClosed:
		w.Status = StatusClosed
		w.unassign()
	}
	if seq != 0 {
		w.LastSeq = seq
	}
	w.UpdatedAt = at
}

func (w *Work) unassign() {
	if w.Owner != "" {
		w.PreviousOwner = w.Owner
	}
	w.Owner, w.OwnerTier, w.Started = "", 0, false
}

// ChannelID is the policy id of a channel: its enum name in lower case
// without the CHANNEL_ prefix.
func ChannelID(c complaintv1.Channel) string {
	if c == complaintv1.Channel_CHANNEL_UNSPECIFIED {
		return ""
	}
	name, ok := complaintv1.Channel_name[int32(c)]
	if !ok {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(name, "CHANNEL_"))
}

// SeverityID is the policy name of a severity ("" when unspecified).
func SeverityID(s complaintv1.Severity) policy.Severity {
	switch s {
	case complaintv1.Severity_SEVERITY_NORMAL:
		return policy.SeverityNormal
	case complaintv1.Severity_SEVERITY_HIGH:
		return policy.SeverityHigh
	case complaintv1.Severity_SEVERITY_MAJOR:
		return policy.SeverityMajor
	case complaintv1.Severity_SEVERITY_CRISIS:
		return policy.SeverityCrisis
	}
	return ""
}

// RouteInput is what the policy's routing rules look at.
func (w *Work) RouteInput() policy.RouteInput {
	return policy.RouteInput{Category: w.Category, Channel: ChannelID(w.Channel), Severity: SeverityID(w.Severity),
		VIP: w.VIP, Amount: policy.Fen(w.AmountFen)}
}

// Deadline is the running SLA deadline routing orders a queue by: the first
// response until answered, then the resolution. Escalation owns the clocks
// that fire; routing recomputes the instants from the same policy.
func (w *Work) Deadline(p *policy.Policy) (due, warn time.Time) {
	clk, start := policy.ClockFirstResponse, w.FiledAt
	if !w.FirstResponseAt.IsZero() {
		clk = policy.ClockResolution
	}
	sla, ok := p.ClockFor(clk, policy.SLAContext{Channel: ChannelID(w.Channel), Category: w.Category,
		Severity: SeverityID(w.Severity), Phase: policy.Phase(w.Phase)})
	if !ok {
		return time.Time{}, time.Time{}
	}
	d, err := p.Deadlines(w.ShopID, sla, start)
	if err != nil {
		return time.Time{}, time.Time{}
	}
	return d.Breach, d.Warn
}
