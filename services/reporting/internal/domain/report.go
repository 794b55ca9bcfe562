package domain

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/kesu315/kesu/services/kit/policy"
)

// Dimensions the aggregates are grouped by (one pass over the facts).
const (
	DimPhase      = "phase"
	DimDay        = "day"
	DimChannel    = "channel"
	DimCategory   = "category"
	DimProduct    = "product"
	DimTeam       = "team"
	DimTier       = "tier"
	DimAgent      = "agent"
	DimRepeat     = "repeat"
	DimRemedyKind = "remedy_kind"
	DimRetention  = "retention"
	DimLevel      = "level"
	DimTransfers  = "transfers"
)

// Keyed is the metrics of one group; Label is filled for products (their
// name) by the store and for everything else by Build.
type Keyed struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Metrics
}

// Stats are a duration's distribution.
type Stats struct {
	Count  int64   `json:"count"`
	Mean   float64 `json:"mean"`
	Median float64 `json:"median"`
	P90    float64 `json:"p90"`
}

// EscalationCount counts escalations to a level for a reason.
type EscalationCount struct {
	Level   string `json:"level"`
	Trigger string `json:"trigger"`
	Count   int64  `json:"count"`
}

// Item is one complaint listed by the report (major, unresolved). It holds
// no personal data: ids, categories, owners and levels only.
type Item struct {
	ComplaintID string    `json:"complaint_id"`
	FiledAt     time.Time `json:"filed_at"`
	Phase       string    `json:"phase"`
	Channel     string    `json:"channel"`
	Category    string    `json:"category"`
	Severity    string    `json:"severity"`
	Reasons     []string  `json:"reasons,omitempty"`
	Status      string    `json:"status"`
	Owner       string    `json:"owner"`
	Team        string    `json:"team"`
	Level       string    `json:"level"`
	AgeHours    float64   `json:"age_hours"`
}

// Aggregates are what the store reads for one shop and season.
type Aggregates struct {
	Total         Metrics
	By            map[string][]Keyed
	FirstResponse map[string]Stats // by phase; "" is the season
	Resolution    map[string]Stats // hours, by phase; "" is the season
	Escalations   []EscalationCount
	Major         []Item
	Unresolved    []Item
}

// ListLimit bounds the complaints listed in a section; the totals count all.
const ListLimit = 1000

// TopLimit bounds ranked groups (products, agents).
const TopLimit = 20

// Report is the season report (《315期间客服工作/投诉工作报告》).
type Report struct {
	Title       string       `json:"title"`
	Language    string       `json:"language"`
	ShopID      string       `json:"shop_id"`
	ShopName    string       `json:"shop_name"`
	Season      SeasonInfo   `json:"season"`
	GeneratedAt time.Time    `json:"generated_at"`
	Overview    Overview     `json:"overview"`
	Channels    []Keyed      `json:"channels"`
	Categories  []Keyed      `json:"categories"`
	Products    []Keyed      `json:"products"`
	Response    Response     `json:"responsiveness"`
	Resolution  Resolution   `json:"resolution"`
	Escalations Escalations  `json:"escalations"`
	Major       Listing      `json:"major_complaints"`
	Breaches    []Count      `json:"deadline_breaches"`
	Promises    Promises     `json:"promises"`
	Repeat      Repeat       `json:"repeat_contacts"`
	Transfers   Transfers    `json:"transfers"`
	Satisfy     Satisfaction `json:"satisfaction"`
	Teams       []Keyed      `json:"by_team"`
	Tiers       []Keyed      `json:"by_tier"`
	Agents      []Keyed      `json:"by_agent"`
	Unresolved  Listing      `json:"unresolved"`
	Findings    []string     `json:"findings"`
}

// SeasonInfo describes the season and its phases.
type SeasonInfo struct {
	Year   int         `json:"year"`
	Name   string      `json:"name"`
	Start  string      `json:"start"`
	End    string      `json:"end"`
	Phases []PhaseSpan `json:"phases"`
}

// PhaseSpan is one phase's days.
type PhaseSpan struct {
	Phase string `json:"phase"`
	Label string `json:"label"`
	Start string `json:"start"`
	End   string `json:"end"`
}

// Overview is the volume: totals, by phase and by day, and last season.
type Overview struct {
	Total      Metrics     `json:"total"`
	ByPhase    []Keyed     `json:"by_phase"`
	ByDay      []DayCount  `json:"by_day"`
	LastSeason *LastSeason `json:"last_season,omitempty"`
}

// DayCount is one season day; LastSeason is the same day of last season
// (same offset from the season start), when last season exists.
type DayCount struct {
	Date       string `json:"date"`
	Phase      string `json:"phase"`
	Complaints int64  `json:"complaints"`
	LastSeason int64  `json:"last_season"`
}

// LastSeason is last year's season for comparison.
type LastSeason struct {
	Year    int     `json:"year"`
	Total   Metrics `json:"total"`
	ByPhase []Keyed `json:"by_phase"`
}

// Response is responsiveness.
type Response struct {
	FirstResponseSeconds Stats        `json:"first_response_seconds"`
	ByPhase              []PhaseStats `json:"by_phase"`
	ChatAnswer30sRate    float64      `json:"chat_answer_30s_rate"`
	ChatComplaints       int64        `json:"chat_complaints"`
	Within2hRate         float64      `json:"answered_within_2h_rate"`
	Within24hRate        float64      `json:"answered_within_24h_rate"`
}

// PhaseStats is a distribution per phase.
type PhaseStats struct {
	Phase string `json:"phase"`
	Label string `json:"label"`
	Stats
}

// Resolution is the 72-hour rate, time to resolve, remedies and retention.
type Resolution struct {
	Resolution72hRate float64      `json:"resolution_72h_rate"`
	ResolvedWithin72h int64        `json:"resolved_within_72h"`
	Resolved          int64        `json:"resolved"`
	HoursToResolve    Stats        `json:"hours_to_resolve"`
	ByPhase           []PhaseStats `json:"by_phase"`
	Remedies          []Count      `json:"remedies"`
	Retention         Retention    `json:"retention"`
}

// Count is a counted id, with an amount where one applies.
type Count struct {
	Key       string `json:"key"`
	Label     string `json:"label"`
	Count     int64  `json:"count"`
	AmountFen int64  `json:"amount_fen"`
}

// Retention of would-be returns (seed 003: about 20%).
type Retention struct {
	Kept     int64   `json:"kept"`
	Returned int64   `json:"returned"`
	Rate     float64 `json:"rate"`
}

// Escalations by level and by reason.
type Escalations struct {
	Complaints int64   `json:"complaints"`
	Total      int64   `json:"total"`
	ByLevel    []Count `json:"by_level"`
	ByReason   []Count `json:"by_reason"`
	// CurrentLevel: complaints by the level they are at now.
	CurrentLevel []Count `json:"current_level"`
}

// Listing is a list of complaints with the total, since lists are bounded.
type Listing struct {
	Total int64  `json:"total"`
	Items []Item `json:"items"`
}

// Promises kept and broken.
type Promises struct {
	Made     int64   `json:"made"`
	Broken   int64   `json:"broken"`
	Kept     int64   `json:"kept"`
	KeptRate float64 `json:"kept_rate"`
}

// Repeat contacts and their satisfaction against first-contact complaints.
type Repeat struct {
	Repeat                       int64   `json:"repeat"`
	Rate                         float64 `json:"rate"`
	RepeatSatisfactionRate       float64 `json:"repeat_satisfaction_rate"`
	RepeatRated                  int64   `json:"repeat_rated"`
	FirstContactSatisfactionRate float64 `json:"first_contact_satisfaction_rate"`
	FirstContactRated            int64   `json:"first_contact_rated"`
}

// Transfers (踢皮球).
type Transfers struct {
	Transferred int64   `json:"transferred"`
	Transfers   int64   `json:"transfers"`
	Rate        float64 `json:"rate"`
	ByCount     []Count `json:"by_count"`
}

// Satisfaction: follow-up coverage, satisfaction and reopen rates.
type Satisfaction struct {
	EverResolved     int64   `json:"ever_resolved"`
	FollowedUp       int64   `json:"followed_up"`
	FollowUpCoverage float64 `json:"follow_up_coverage"`
	Rated            int64   `json:"rated"`
	Satisfied        int64   `json:"satisfied"`
	SatisfactionRate float64 `json:"satisfaction_rate"`
	Reopened         int64   `json:"reopened"`
	ReopenRate       float64 `json:"reopen_rate"`
}

// BuildInput is everything Build needs.
type BuildInput struct {
	Shop   policy.Shop
	Season policy.Season
	Now    time.Time
	Lang   string
	Labels Labeler
	Agg    Aggregates
	// Last is last season's aggregates, nil when it has no data.
	Last       *Aggregates
	LastSeason *policy.Season
}

// Build turns the aggregates into the report, labelled in the language.
func Build(in BuildInput) *Report {
	lang := NormalizeLanguage(in.Lang)
	lb := in.Labels
	lb.Lang = lang
	a := in.Agg
	a.Total.Finish()
	r := &Report{
		Title:    T(lang, "315期间客服工作/投诉工作报告", "315 season customer service and complaint report"),
		Language: lang, ShopID: in.Shop.ID, ShopName: in.Shop.Name.In(lang), GeneratedAt: in.Now.UTC(),
		Season: SeasonInfo{Year: in.Season.Year, Name: in.Season.Name.In(lang), Start: in.Season.Start.String(), End: in.Season.End.String()},
	}
	for _, p := range in.Season.Phases {
		r.Season.Phases = append(r.Season.Phases, PhaseSpan{Phase: string(p.Phase), Label: lb.Label(DimPhase, string(p.Phase)), Start: p.Start.String(), End: p.End.String()})
	}
	groups := func(dim string) []Keyed {
		out := slices.Clone(a.By[dim])
		for i := range out {
			out[i].Finish()
			if out[i].Label == "" || dim != DimProduct {
				out[i].Label = lb.Label(dim, out[i].Key)
			}
		}
		return out
	}
	byCount := func(g []Keyed) []Keyed {
		slices.SortStableFunc(g, func(x, y Keyed) int {
			return cmp.Or(cmp.Compare(y.Complaints, x.Complaints), cmp.Compare(x.Key, y.Key))
		})
		return g
	}
	top := func(g []Keyed) []Keyed { return byCount(g)[:min(len(g), TopLimit)] }

	// Overview.
	r.Overview.Total = a.Total
	r.Overview.ByPhase = phaseOrdered(in.Season, groups(DimPhase), lb)
	days := map[string]int64{}
	for _, g := range a.By[DimDay] {
		days[g.Key] = g.Complaints
	}
	var lastDays map[string]int64
	if in.Last != nil && in.LastSeason != nil {
		last := *in.Last
		last.Total.Finish()
		ls := &LastSeason{Year: in.LastSeason.Year, Total: last.Total}
		lastPhase := map[string]Keyed{}
		for _, g := range last.By[DimPhase] {
			g.Finish()
			g.Label = lb.Label(DimPhase, g.Key)
			lastPhase[g.Key] = g
		}
		ls.ByPhase = phaseOrdered(*in.LastSeason, mapValues(lastPhase), lb)
		r.Overview.LastSeason = ls
		lastDays = map[string]int64{}
		for _, g := range last.By[DimDay] {
			lastDays[g.Key] = g.Complaints
		}
	}
	for d, i := in.Season.Start, 0; !d.After(in.Season.End); d, i = d.AddDays(1), i+1 {
		dc := DayCount{Date: d.String(), Phase: string(in.Season.PhaseOn(d)), Complaints: days[d.String()]}
		if lastDays != nil {
			dc.LastSeason = lastDays[in.LastSeason.Start.AddDays(i).String()]
		}
		r.Overview.ByDay = append(r.Overview.ByDay, dc)
	}

	r.Channels = byCount(groups(DimChannel))
	r.Categories = byCount(groups(DimCategory))
	r.Products = top(groups(DimProduct))

	// Responsiveness.
	r.Response = Response{
		FirstResponseSeconds: a.FirstResponse[""], ChatAnswer30sRate: a.Total.ChatAnswer30sRate,
		ChatComplaints: a.Total.ChatComplaints, Within2hRate: a.Total.AnsweredWithin2hRate, Within24hRate: a.Total.AnsweredWithin24hRate,
	}
	r.Response.ByPhase = phaseStats(in.Season, a.FirstResponse, lb)

	// Resolution.
	r.Resolution = Resolution{
		Resolution72hRate: a.Total.Resolution72hRate, ResolvedWithin72h: a.Total.ResolvedWithin72h, Resolved: a.Total.Resolved,
		HoursToResolve: a.Resolution[""], ByPhase: phaseStats(in.Season, a.Resolution, lb),
	}
	for _, g := range groups(DimRemedyKind) {
		// Counted when granted: the remedy of a complaint resolved now.
		if g.Key != "" && g.Resolved > 0 {
			r.Resolution.Remedies = append(r.Resolution.Remedies, Count{Key: g.Key, Label: g.Label, Count: g.Resolved, AmountFen: g.RemedyAmountFen})
		}
	}
	sortCounts(r.Resolution.Remedies, nil)
	for _, g := range a.By[DimRetention] {
		switch g.Key {
		case "kept":
			r.Resolution.Retention.Kept = g.Resolved
		case "returned":
			r.Resolution.Retention.Returned = g.Resolved
		}
	}
	r.Resolution.Retention.Rate = ratio(r.Resolution.Retention.Kept, r.Resolution.Retention.Kept+r.Resolution.Retention.Returned)

	// Escalations.
	r.Escalations.Complaints = a.Total.Escalated
	levels, reasons := map[string]int64{}, map[string]int64{}
	for _, e := range a.Escalations {
		r.Escalations.Total += e.Count
		levels[e.Level] += e.Count
		reasons[e.Trigger] += e.Count
	}
	r.Escalations.ByLevel = counts("level", levels, lb, levelOrder)
	r.Escalations.ByReason = counts("trigger", reasons, lb, nil)
	for _, g := range groups(DimLevel) {
		r.Escalations.CurrentLevel = append(r.Escalations.CurrentLevel, Count{Key: g.Key, Label: g.Label, Count: g.Complaints})
	}
	sortCounts(r.Escalations.CurrentLevel, levelOrder)

	r.Major = Listing{Total: a.Total.Major, Items: a.Major}
	t := a.Total
	for _, c := range []struct {
		id string
		n  int64
	}{{"first_response", t.BreachFirstResponse}, {"next_response", t.BreachNextResponse}, {"resolution", t.BreachResolution}, {"odr", t.BreachODR}, {"promise", t.BreachPromise}, {"follow_up", t.BreachFollowUp}} {
		r.Breaches = append(r.Breaches, Count{Key: c.id, Label: lb.Label("clock", c.id), Count: c.n})
	}
	r.Promises = Promises{Made: t.PromisesMade, Broken: t.PromisesBroken, Kept: t.PromisesKept, KeptRate: t.PromisesKeptRate}

	r.Repeat = Repeat{Repeat: t.Repeat, Rate: t.RepeatRate}
	for _, g := range groups(DimRepeat) {
		if g.Key == "repeat" {
			r.Repeat.RepeatSatisfactionRate, r.Repeat.RepeatRated = g.SatisfactionRate, g.Rated
		} else {
			r.Repeat.FirstContactSatisfactionRate, r.Repeat.FirstContactRated = g.SatisfactionRate, g.Rated
		}
	}
	r.Transfers = Transfers{Transferred: t.Transferred, Transfers: t.Transfers, Rate: t.TransferRate}
	tc := groups(DimTransfers)
	slices.SortFunc(tc, func(x, y Keyed) int { return cmp.Compare(atoi(x.Key), atoi(y.Key)) })
	for _, g := range tc {
		r.Transfers.ByCount = append(r.Transfers.ByCount, Count{Key: g.Key, Label: g.Key, Count: g.Complaints})
	}
	r.Satisfy = Satisfaction{
		EverResolved: t.EverResolved, FollowedUp: t.FollowedUp, FollowUpCoverage: t.FollowUpCoverage,
		Rated: t.Rated, Satisfied: t.Satisfied, SatisfactionRate: t.SatisfactionRate, Reopened: t.Reopened, ReopenRate: t.ReopenRate,
	}
	r.Teams = byCount(groups(DimTeam))
	r.Tiers = groups(DimTier)
	slices.SortFunc(r.Tiers, func(x, y Keyed) int { return cmp.Compare(atoi(x.Key), atoi(y.Key)) })
	r.Agents = top(groups(DimAgent))
	r.Unresolved = Listing{Total: t.Open, Items: a.Unresolved}
	for _, l := range []*Listing{&r.Major, &r.Unresolved} {
		if l.Items == nil {
			l.Items = []Item{}
		}
	}
	r.Findings = Findings(r, lang)
	return r
}

var levelOrder = []string{"", "agent", "supervisor", "platform", "pr"}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func mapValues(m map[string]Keyed) []Keyed {
	out := make([]Keyed, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// phaseOrdered lists every phase of the season in order, zero where no
// complaint fell, then off-season groups (a complaint filed outside the
// season cannot be in its facts, but a later policy edit may move days).
func phaseOrdered(s policy.Season, g []Keyed, lb Labeler) []Keyed {
	by := map[string]Keyed{}
	for _, x := range g {
		by[x.Key] = x
	}
	var out []Keyed
	for _, p := range s.Phases {
		k, ok := by[string(p.Phase)]
		if !ok {
			k = Keyed{Key: string(p.Phase), Label: lb.Label(DimPhase, string(p.Phase))}
		}
		out = append(out, k)
		delete(by, string(p.Phase))
	}
	rest := mapValues(by)
	slices.SortFunc(rest, func(x, y Keyed) int { return cmp.Compare(x.Key, y.Key) })
	return append(out, rest...)
}

func phaseStats(s policy.Season, m map[string]Stats, lb Labeler) []PhaseStats {
	var out []PhaseStats
	for _, p := range s.Phases {
		out = append(out, PhaseStats{Phase: string(p.Phase), Label: lb.Label(DimPhase, string(p.Phase)), Stats: m[string(p.Phase)]})
	}
	return out
}

func counts(dim string, m map[string]int64, lb Labeler, order []string) []Count {
	out := make([]Count, 0, len(m))
	for k, n := range m {
		out = append(out, Count{Key: k, Label: lb.Label(dim, k), Count: n})
	}
	sortCounts(out, order)
	return out
}

func sortCounts(c []Count, order []string) {
	slices.SortFunc(c, func(x, y Count) int {
		if order != nil {
			return cmp.Compare(slices.Index(order, x.Key), slices.Index(order, y.Key))
		}
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Key, y.Key))
	})
}
