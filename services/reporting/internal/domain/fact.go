// Package domain holds what reporting knows without any I/O: the per-complaint
// fact folded from a complaint's events, the season report built from
// aggregated facts, and the findings written from the numbers.
package domain

import (
	"slices"
	"time"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
)

// Statuses of a complaint as every projection agrees on (DESIGN cross-service
// semantics): open → resolved → closed, reopened back to open.
const (
	StatusOpen     = "open"
	StatusResolved = "resolved"
	StatusClosed   = "closed"
)

// ResolutionTarget is the after-sales headline: resolved within 72 hours of filing.
const ResolutionTarget = 72 * time.Hour

// ChatAnswerTarget is the chat KPI: answered within 30 seconds (30s应答率).
const ChatAnswerTarget = 30

// majorSignals are the risk signal codes that make a complaint a public
// threat (315 / 12315 / media exposure / regulator / lawsuit), seed 002 and 004.
var majorSignals = []string{"threat_315", "threat_12315", "media_exposure", "consumer_association", "regulator", "lawsuit"}

// Placement is where a complaint falls in a shop's seasons.
type Placement struct {
	Season int    // 0 off season
	Phase  string // preparation, battle, aftermath, off_season
	Day    time.Time
}

// Placer places an instant of a shop in its season, phase and local day.
type Placer interface {
	Place(shopID string, t time.Time) Placement
}

// Fact is one complaint as the report counts it; the projection keeps one row
// per complaint. Durations are measured on occurred_at, when things happened
// at the source. Every field is derived from the events alone.
type Fact struct {
	ComplaintID    string
	ShopID         string
	Season         int
	Phase          string
	FiledAt        time.Time
	FiledDay       time.Time
	Channel        string
	Category       string
	Severity       string
	CustomerType   string
	SKU            string
	Product        string
	OrderAmountFen int64
	ClaimedFen     int64
	Major          bool
	MajorReasons   []string
	Status         string
	// FirstResponseSeconds is from filing to the first agent response; -1 none.
	FirstResponseSeconds int64
	FirstResolvedAt      time.Time
	ResolvedAt           time.Time
	ResolvedPhase        string
	// ResolutionSeconds is filing to the last resolution; -1 while unresolved.
	ResolutionSeconds int64
	Resolutions       int32
	Outcome           string
	RemedyKind        string
	RemedyAmountFen   int64
	Retention         string
	Reopens           int32
	Contacts          int32
	Transfers         int32
	Team              string
	AgentID           string
	AgentTier         int32
	EscalationLevel   int32
	Escalations       int32
	EscalationTrigger string
	BreachFirst       int32
	BreachNext        int32
	BreachResolution  int32
	BreachODR         int32
	BreachPromise     int32
	BreachFollowUp    int32
	PromisesMade      int32
	PromisesBroken    int32
	FollowUps         int32
	FollowUpReached   bool
	Satisfaction      string
	SatisfactionScore int32
	ClosedAt          time.Time
	CloseReason       string
	PersonalErased    bool
	LastEventAt       time.Time
	EventCount        int64
	LastSeq           int64
}

// RepeatContacts is the number of contacts after the first (多次进线).
func (f *Fact) RepeatContacts() int32 { return max(f.Contacts-1, 0) }

// ResolvedWithin72h: resolved now, and the last resolution came within 72 h
// of filing. A reopened complaint counts only once it is resolved again, by
// the time of that later resolution.
func (f *Fact) ResolvedWithin72h() bool {
	return f.Status != StatusOpen && f.ResolutionSeconds >= 0 && f.ResolutionSeconds <= int64(ResolutionTarget/time.Second)
}

// Answered30s: a chat complaint first answered within 30 seconds.
func (f *Fact) Answered30s() bool {
	return f.Channel == "online_chat" && f.FirstResponseSeconds >= 0 && f.FirstResponseSeconds <= ChatAnswerTarget
}

// Breaches is the number of deadline breaches of every clock.
func (f *Fact) Breaches() int32 {
	return f.BreachFirst + f.BreachNext + f.BreachResolution + f.BreachODR + f.BreachPromise + f.BreachFollowUp
}

// Fold applies one event (stream sequence seq) to a complaint's fact. A nil
// fact means no ComplaintFiled seen yet: events before it are ignored. It is
// the projection's only logic, shared by the live runner and the rebuild.
func Fold(f *Fact, seq uint64, ev *complaintv1.Event, pl Placer) *Fact {
	if f != nil && int64(seq) <= f.LastSeq {
		return f
	}
	at := ev.GetOccurredAt().AsTime()
	if fl := ev.GetComplaintFiled(); fl != nil {
		if f != nil {
			return f
		}
		p := pl.Place(ev.GetShopId(), at)
		f = &Fact{
			ComplaintID: ev.GetComplaintId(), ShopID: ev.GetShopId(), Season: p.Season, Phase: p.Phase,
			FiledAt: at, FiledDay: p.Day, Channel: ChannelID(fl.GetChannel()), CustomerType: customerType(fl.GetCustomerType()),
			OrderAmountFen: fl.GetOrderAmountFen(), ClaimedFen: fl.GetClaimedAmountFen(), Status: StatusOpen,
			FirstResponseSeconds: -1, ResolutionSeconds: -1, Contacts: 1, Severity: "normal",
			MajorReasons: []string{},
		}
		if items := fl.GetItems(); len(items) > 0 {
			f.SKU, f.Product = items[0].GetSkuId(), items[0].GetProductName()
		}
		c := fl.GetComplainant()
		for _, flag := range []struct {
			on   bool
			code string
		}{{c.GetMedia(), "media"}, {c.GetOfficial(), "official"}, {c.GetCelebrity(), "celebrity"}} {
			if flag.on {
				f.addMajor(flag.code)
			}
		}
	}
	if f == nil {
		return nil
	}
	switch p := ev.GetPayload().(type) {
	case *complaintv1.Event_ContactAdded:
		f.Contacts++
	case *complaintv1.Event_ComplaintClassified:
		c := p.ComplaintClassified
		if c.GetCategory() != "" {
			f.Category = c.GetCategory()
		}
		f.raiseSeverity(c.GetSeverity())
		if c.GetCustomerType() != complaintv1.CustomerType_CUSTOMER_TYPE_UNSPECIFIED {
			f.CustomerType = customerType(c.GetCustomerType())
		}
		for _, s := range c.GetRiskSignals() {
			if slices.Contains(majorSignals, s.GetCode()) {
				f.addMajor("threat")
			}
		}
	case *complaintv1.Event_RiskFlagged:
		f.raiseSeverity(p.RiskFlagged.GetSeverity())
		if slices.Contains(majorSignals, p.RiskFlagged.GetSignal().GetCode()) {
			f.addMajor("threat")
		}
	case *complaintv1.Event_ComplaintRouted:
		f.Team = p.ComplaintRouted.GetQueue()
	case *complaintv1.Event_ComplaintAssigned:
		a := p.ComplaintAssigned
		f.AgentID, f.AgentTier = a.GetAgentId(), a.GetAgentTier()
		if a.GetQueue() != "" {
			f.Team = a.GetQueue()
		}
	case *complaintv1.Event_ComplaintTransferred:
		f.Transfers++
		t := p.ComplaintTransferred
		if t.GetToAgentId() != "" {
			f.AgentID = t.GetToAgentId()
		}
		if t.GetToQueue() != "" {
			f.Team = t.GetToQueue()
		}
	case *complaintv1.Event_AgentResponded:
		r := p.AgentResponded
		if f.FirstResponseSeconds < 0 {
			secs := r.GetResponseSeconds()
			if !r.GetFirstResponse() || secs <= 0 {
				secs = int64(at.Sub(f.FiledAt) / time.Second)
			}
			f.FirstResponseSeconds = max(secs, 0)
		}
		if f.AgentID == "" {
			f.AgentID = r.GetAgentId()
		}
	case *complaintv1.Event_PromiseMade:
		f.PromisesMade++
	case *complaintv1.Event_PromiseBroken:
		f.PromisesBroken++
	case *complaintv1.Event_ComplaintResolved:
		r := p.ComplaintResolved
		f.Resolutions++
		if f.FirstResolvedAt.IsZero() {
			f.FirstResolvedAt = at
		}
		f.ResolvedAt = at
		f.ResolvedPhase = pl.Place(f.ShopID, at).Phase
		f.ResolutionSeconds = max(int64(at.Sub(f.FiledAt)/time.Second), 0)
		f.Status = StatusResolved
		f.Outcome = outcome(r.GetOutcome())
		f.RemedyKind = RemedyKindID(r.GetRemedyKind())
		f.RemedyAmountFen = r.GetRemedyAmountFen()
		f.Retention = retention(r.GetRetention())
	case *complaintv1.Event_DeadlineBreached:
		switch p.DeadlineBreached.GetClock() {
		case complaintv1.ClockKind_CLOCK_KIND_FIRST_RESPONSE:
			f.BreachFirst++
		case complaintv1.ClockKind_CLOCK_KIND_NEXT_RESPONSE:
			f.BreachNext++
		case complaintv1.ClockKind_CLOCK_KIND_RESOLUTION:
			f.BreachResolution++
		case complaintv1.ClockKind_CLOCK_KIND_ODR:
			f.BreachODR++
		case complaintv1.ClockKind_CLOCK_KIND_PROMISE:
			f.BreachPromise++
		case complaintv1.ClockKind_CLOCK_KIND_FOLLOW_UP:
			f.BreachFollowUp++
		}
	case *complaintv1.Event_ComplaintEscalated:
		e := p.ComplaintEscalated
		f.Escalations++
		f.EscalationLevel = int32(e.GetToLevel())
		f.EscalationTrigger = TriggerID(e.GetTrigger())
	case *complaintv1.Event_FollowUpScheduled:
		f.FollowUps++
	case *complaintv1.Event_FollowUpAttempted:
		if p.FollowUpAttempted.GetOutcome() == complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_REACHED {
			f.FollowUpReached = true
		}
	case *complaintv1.Event_SatisfactionRecorded:
		s := p.SatisfactionRecorded
		f.FollowUpReached = true
		f.Satisfaction = satisfaction(s.GetSatisfaction())
		f.SatisfactionScore = s.GetScore()
	case *complaintv1.Event_ComplaintReopened:
		f.Reopens++
		f.Status = StatusOpen
		f.ClosedAt, f.CloseReason = time.Time{}, ""
	case *complaintv1.Event_ComplaintClosed:
		f.Status = StatusClosed
		f.ClosedAt = at
		f.CloseReason = closeReason(p.ComplaintClosed.GetReason())
	case *complaintv1.Event_PersonalDataErased:
		f.PersonalErased = true
	}
	f.EventCount++
	f.LastSeq = int64(seq)
	f.LastEventAt = at
	return f
}

func (f *Fact) addMajor(code string) {
	f.Major = true
	if !slices.Contains(f.MajorReasons, code) {
		f.MajorReasons = append(f.MajorReasons, code)
	}
}

// raiseSeverity keeps the highest severity seen: a later classification that
// reads lower does not make a complaint that was major ordinary again.
func (f *Fact) raiseSeverity(s complaintv1.Severity) {
	if s == complaintv1.Severity_SEVERITY_UNSPECIFIED {
		return
	}
	if severityRank(SeverityID(s)) > severityRank(f.Severity) {
		f.Severity = SeverityID(s)
	}
	if s >= complaintv1.Severity_SEVERITY_MAJOR {
		f.Major = true
	}
}

func severityRank(s string) int {
	return slices.Index([]string{"normal", "high", "major", "crisis"}, s)
}
