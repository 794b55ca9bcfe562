package domain

import (
	"strconv"
)

// Counter indexes: a fact's contribution to the groups it belongs to. Every
// counter is a sum over facts, so a group's counters change by the
// difference of a fact's contribution before and after an event: the
// projection keeps the groups up to date without rescanning the facts, and
// the report reads a few thousand group rows instead of a million facts.
const (
	CComplaints = iota
	CResponded
	CFirstResponseSum
	CChat
	CChatAnswered30s
	CWithin2h
	CWithin24h
	CEverResolved
	CResolved
	CResolvedTimed
	CResolutionSum
	CResolved72h
	CRemedyAmount
	CEscalated
	CMajor
	CBreachFirst
	CBreachNext
	CBreachResolution
	CBreachODR
	CBreachPromise
	CBreachFollowUp
	CPromisesMade
	CPromisesBroken
	CRepeat
	CTransferred
	CTransfers
	CFollowedUp
	CRated
	CSatisfied
	CReopened
	COpen
	NCounters
)

// CounterColumns names the counters as the columns of reporting.season_groups.
var CounterColumns = [NCounters]string{
	"complaints", "responded", "first_response_sum", "chat", "chat_answered_30s", "within_2h", "within_24h",
	"ever_resolved", "resolved", "resolved_timed", "resolution_sum", "resolved_72h", "remedy_amount_fen",
	"escalated", "major", "breach_first_response", "breach_next_response", "breach_resolution", "breach_odr",
	"breach_promise", "breach_follow_up", "promises_made", "promises_broken", "repeat", "transferred",
	"transfers", "followed_up", "rated", "satisfied", "reopened", "open",
}

// Counters is one fact's contribution, or a group's sums.
type Counters [NCounters]int64

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Counters is the fact's contribution to each of its groups.
func (f *Fact) Counters() Counters {
	var c Counters
	frs := f.FirstResponseSeconds
	resolved := f.Status != StatusOpen
	c[CComplaints] = 1
	c[CResponded] = b2i(frs >= 0)
	c[CFirstResponseSum] = max(frs, 0)
	c[CChat] = b2i(f.Channel == "online_chat")
	c[CChatAnswered30s] = b2i(f.Answered30s())
	c[CWithin2h] = b2i(frs >= 0 && frs <= 7200)
	c[CWithin24h] = b2i(frs >= 0 && frs <= 86400)
	c[CEverResolved] = b2i(f.Resolutions > 0)
	c[CResolved] = b2i(resolved)
	c[CResolvedTimed] = b2i(resolved && f.ResolutionSeconds >= 0)
	if resolved && f.ResolutionSeconds >= 0 {
		c[CResolutionSum] = f.ResolutionSeconds
	}
	c[CResolved72h] = b2i(f.ResolvedWithin72h())
	if resolved {
		c[CRemedyAmount] = f.RemedyAmountFen
	}
	c[CEscalated] = b2i(f.Escalations > 0)
	c[CMajor] = b2i(f.Major)
	c[CBreachFirst] = int64(f.BreachFirst)
	c[CBreachNext] = int64(f.BreachNext)
	c[CBreachResolution] = int64(f.BreachResolution)
	c[CBreachODR] = int64(f.BreachODR)
	c[CBreachPromise] = int64(f.BreachPromise)
	c[CBreachFollowUp] = int64(f.BreachFollowUp)
	c[CPromisesMade] = int64(f.PromisesMade)
	c[CPromisesBroken] = int64(f.PromisesBroken)
	c[CRepeat] = b2i(f.Contacts > 1)
	c[CTransferred] = b2i(f.Transfers > 0)
	c[CTransfers] = int64(f.Transfers)
	c[CFollowedUp] = b2i(f.FollowUpReached && f.Resolutions > 0)
	c[CRated] = b2i(f.Satisfaction != "")
	c[CSatisfied] = b2i(f.Satisfaction == "satisfied")
	c[CReopened] = b2i(f.Reopens > 0)
	c[COpen] = b2i(!resolved)
	return c
}

// Metrics turns a group's sums into metrics (counts, means and rates).
func (c Counters) Metrics() Metrics {
	m := Metrics{
		Complaints: c[CComplaints], Responded: c[CResponded], ChatComplaints: c[CChat], ChatAnswered30s: c[CChatAnswered30s],
		AnsweredWithin2h: c[CWithin2h], AnsweredWithin24h: c[CWithin24h], EverResolved: c[CEverResolved], Resolved: c[CResolved],
		ResolvedWithin72h: c[CResolved72h], RemedyAmountFen: c[CRemedyAmount], Escalated: c[CEscalated], Major: c[CMajor],
		BreachFirstResponse: c[CBreachFirst], BreachNextResponse: c[CBreachNext], BreachResolution: c[CBreachResolution],
		BreachODR: c[CBreachODR], BreachPromise: c[CBreachPromise], BreachFollowUp: c[CBreachFollowUp],
		PromisesMade: c[CPromisesMade], PromisesBroken: c[CPromisesBroken], Repeat: c[CRepeat], Transferred: c[CTransferred],
		Transfers: c[CTransfers], FollowedUp: c[CFollowedUp], Rated: c[CRated], Satisfied: c[CSatisfied], Reopened: c[CReopened],
		Open: c[COpen],
	}
	if c[CResponded] > 0 {
		m.FirstResponseMeanSeconds = float64(c[CFirstResponseSum]) / float64(c[CResponded])
	}
	if c[CResolvedTimed] > 0 {
		m.ResolveMeanHours = float64(c[CResolutionSum]) / float64(c[CResolvedTimed]) / 3600
	}
	m.Finish()
	return m
}

// DimTotal is the group of every complaint of a shop's season.
const DimTotal = "total"

// Group names one group a fact counts in.
type Group struct {
	Dim, Key, Label string
}

// Groups lists the groups a fact counts in: the season total and one per
// dimension of the report.
func (f *Fact) Groups() []Group {
	tier := ""
	if f.AgentTier > 0 {
		tier = strconv.Itoa(int(f.AgentTier))
	}
	transfers := strconv.Itoa(int(min(f.Transfers, 3)))
	if f.Transfers >= 3 {
		transfers = "3+"
	}
	repeat := "first"
	if f.Contacts > 1 {
		repeat = "repeat"
	}
	return []Group{
		{DimTotal, "", ""},
		{DimPhase, f.Phase, ""},
		{DimDay, f.FiledDay.Format("2006-01-02"), ""},
		{DimChannel, f.Channel, ""},
		{DimCategory, f.Category, ""},
		{DimProduct, f.SKU, f.Product},
		{DimTeam, f.Team, ""},
		{DimTier, tier, ""},
		{DimAgent, f.AgentID, ""},
		{DimRepeat, repeat, ""},
		{DimRemedyKind, f.RemedyKind, ""},
		{DimRetention, f.Retention, ""},
		{DimLevel, LevelID(levelEnum(f.EscalationLevel)), ""},
		{DimTransfers, transfers, ""},
	}
}

// Measures whose distribution the report needs (median, p90).
const (
	MeasureFirstResponse = "first_response_seconds"
	// MeasureResolution is in whole minutes: exact enough for hours to
	// resolve, and it keeps the number of distinct values small.
	MeasureResolution = "resolution_minutes"
)

// Value is one value of a measure a fact contributes, counted per phase.
type Value struct {
	Measure string
	Value   int64
}

// Values lists the fact's values of the measures.
func (f *Fact) Values() []Value {
	var out []Value
	if f.FirstResponseSeconds >= 0 {
		out = append(out, Value{MeasureFirstResponse, f.FirstResponseSeconds})
	}
	if f.Status != StatusOpen && f.ResolutionSeconds >= 0 {
		out = append(out, Value{MeasureResolution, f.ResolutionSeconds / 60})
	}
	return out
}

// ValueCount is how many facts had a value.
type ValueCount struct {
	Value int64
	N     int64
}

// Distribution computes the stats of counted values sorted by value; scale
// converts a value to the unit reported. Percentiles interpolate linearly
// between the two nearest values, as PostgreSQL's percentile_cont does.
func Distribution(vals []ValueCount, scale float64) Stats {
	var st Stats
	var sum float64
	for _, v := range vals {
		st.Count += v.N
		sum += float64(v.Value) * float64(v.N)
	}
	if st.Count == 0 {
		return st
	}
	st.Mean = sum / float64(st.Count) * scale
	at := func(i int64) float64 { // the i-th value (0-based) in sorted order
		for _, v := range vals {
			if i < v.N {
				return float64(v.Value)
			}
			i -= v.N
		}
		return float64(vals[len(vals)-1].Value)
	}
	pct := func(p float64) float64 {
		pos := p * float64(st.Count-1)
		lo := int64(pos)
		frac := pos - float64(lo)
		a := at(lo)
		if frac == 0 {
			return a * scale
		}
		return (a + frac*(at(lo+1)-a)) * scale
	}
	st.Median, st.P90 = pct(0.5), pct(0.9)
	return st
}
