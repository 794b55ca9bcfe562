package domain

// Metrics are the season counters of a set of complaints (a shop's season, a
// phase, a day, a channel, …), summed from the facts, plus the rates derived
// from them. Rates are fractions 0..1; a rate with no denominator is 0 and its
// denominator says so.
type Metrics struct {
	Complaints int64 `json:"complaints"`
	// Responded: complaints with a first agent response.
	Responded                int64   `json:"responded"`
	FirstResponseMeanSeconds float64 `json:"first_response_mean_seconds"`
	ChatComplaints           int64   `json:"chat_complaints"`
	ChatAnswered30s          int64   `json:"chat_answered_30s"`
	ChatAnswer30sRate        float64 `json:"chat_answer_30s_rate"`
	AnsweredWithin2h         int64   `json:"answered_within_2h"`
	AnsweredWithin2hRate     float64 `json:"answered_within_2h_rate"`
	AnsweredWithin24h        int64   `json:"answered_within_24h"`
	AnsweredWithin24hRate    float64 `json:"answered_within_24h_rate"`
	// EverResolved: complaints resolved at least once (reopened ones included).
	EverResolved int64 `json:"ever_resolved"`
	// Resolved: resolved or closed at report time.
	Resolved            int64   `json:"resolved"`
	ResolvedWithin72h   int64   `json:"resolved_within_72h"`
	Resolution72hRate   float64 `json:"resolution_72h_rate"`
	ResolveMeanHours    float64 `json:"resolve_mean_hours"`
	RemedyAmountFen     int64   `json:"remedy_amount_fen"`
	Escalated           int64   `json:"escalated"`
	Major               int64   `json:"major"`
	BreachFirstResponse int64   `json:"breach_first_response"`
	BreachNextResponse  int64   `json:"breach_next_response"`
	BreachResolution    int64   `json:"breach_resolution"`
	BreachODR           int64   `json:"breach_odr"`
	BreachPromise       int64   `json:"breach_promise"`
	BreachFollowUp      int64   `json:"breach_follow_up"`
	Breaches            int64   `json:"breaches"`
	PromisesMade        int64   `json:"promises_made"`
	PromisesBroken      int64   `json:"promises_broken"`
	PromisesKept        int64   `json:"promises_kept"`
	PromisesKeptRate    float64 `json:"promises_kept_rate"`
	Repeat              int64   `json:"repeat"`
	RepeatRate          float64 `json:"repeat_rate"`
	Transferred         int64   `json:"transferred"`
	Transfers           int64   `json:"transfers"`
	TransferRate        float64 `json:"transfer_rate"`
	FollowedUp          int64   `json:"followed_up"`
	FollowUpCoverage    float64 `json:"follow_up_coverage"`
	Rated               int64   `json:"rated"`
	Satisfied           int64   `json:"satisfied"`
	SatisfactionRate    float64 `json:"satisfaction_rate"`
	Reopened            int64   `json:"reopened"`
	ReopenRate          float64 `json:"reopen_rate"`
	Open                int64   `json:"open"`
}

func ratio(n, d int64) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// Finish derives the rates and totals from the counters.
func (m *Metrics) Finish() {
	m.ChatAnswer30sRate = ratio(m.ChatAnswered30s, m.ChatComplaints)
	m.AnsweredWithin2hRate = ratio(m.AnsweredWithin2h, m.Complaints)
	m.AnsweredWithin24hRate = ratio(m.AnsweredWithin24h, m.Complaints)
	m.Resolution72hRate = ratio(m.ResolvedWithin72h, m.Complaints)
	m.Breaches = m.BreachFirstResponse + m.BreachNextResponse + m.BreachResolution + m.BreachODR + m.BreachPromise + m.BreachFollowUp
	m.PromisesKept = max(m.PromisesMade-m.PromisesBroken, 0)
	m.PromisesKeptRate = ratio(m.PromisesKept, m.PromisesMade)
	m.RepeatRate = ratio(m.Repeat, m.Complaints)
	m.TransferRate = ratio(m.Transferred, m.Complaints)
	m.FollowUpCoverage = ratio(m.FollowedUp, m.EverResolved)
	m.SatisfactionRate = ratio(m.Satisfied, m.Rated)
	m.ReopenRate = ratio(m.Reopened, m.EverResolved)
}

// Add sums counters (for totals of groups); call Finish afterwards. Means are
// weighted by their denominators.
func (m *Metrics) Add(o Metrics) {
	if n := m.Responded + o.Responded; n > 0 {
		m.FirstResponseMeanSeconds = (m.FirstResponseMeanSeconds*float64(m.Responded) + o.FirstResponseMeanSeconds*float64(o.Responded)) / float64(n)
	}
	if n := m.Resolved + o.Resolved; n > 0 {
		m.ResolveMeanHours = (m.ResolveMeanHours*float64(m.Resolved) + o.ResolveMeanHours*float64(o.Resolved)) / float64(n)
	}
	m.Complaints += o.Complaints
	m.Responded += o.Responded
	m.ChatComplaints += o.ChatComplaints
	m.ChatAnswered30s += o.ChatAnswered30s
	m.AnsweredWithin2h += o.AnsweredWithin2h
	m.AnsweredWithin24h += o.AnsweredWithin24h
	m.EverResolved += o.EverResolved
	m.Resolved += o.Resolved
	m.ResolvedWithin72h += o.ResolvedWithin72h
	m.RemedyAmountFen += o.RemedyAmountFen
	m.Escalated += o.Escalated
	m.Major += o.Major
	m.BreachFirstResponse += o.BreachFirstResponse
	m.BreachNextResponse += o.BreachNextResponse
	m.BreachResolution += o.BreachResolution
	m.BreachODR += o.BreachODR
	m.BreachPromise += o.BreachPromise
	m.BreachFollowUp += o.BreachFollowUp
	m.PromisesMade += o.PromisesMade
	m.PromisesBroken += o.PromisesBroken
	m.Repeat += o.Repeat
	m.Transferred += o.Transferred
	m.Transfers += o.Transfers
	m.FollowedUp += o.FollowedUp
	m.Rated += o.Rated
	m.Satisfied += o.Satisfied
	m.Reopened += o.Reopened
	m.Open += o.Open
}
