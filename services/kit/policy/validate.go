package policy

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// validator converts the raw file into a Policy, collecting every problem
// instead of stopping at the first, so one run shows the operator all of them.
type validator struct {
	problems []Problem
	norm     *Normalizer
}

// idKind is the spelling an id must have.
type idKind int

const (
	idPlain idKind = iota // a letter, then letters, digits or '_'
	idShop                // letters, digits, '-' or '_'
)

func (k idKind) valid(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' || c == '_':
			if i == 0 && (k == idPlain || c == '_') {
				return false
			}
		case c == '-' && k == idShop && i > 0:
		default:
			return false
		}
	}
	return true
}

func (v *validator) add(path, value, reason string) {
	v.problems = append(v.problems, Problem{Path: path, Value: value, Reason: reason})
}

func (v *validator) addf(path, value, format string, args ...any) {
	v.add(path, value, fmt.Sprintf(format, args...))
}

func q(s string) string { return strconv.Quote(s) }

func idx(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

func (v *validator) name(path string, n rawName) DisplayName {
	if strings.TrimSpace(n.ZhCN) == "" {
		v.add(path+".zh-CN", "", "must be set")
	}
	if strings.TrimSpace(n.En) == "" {
		v.add(path+".en", "", "must be set")
	}
	return DisplayName{ZhCN: strings.TrimSpace(n.ZhCN), En: strings.TrimSpace(n.En)}
}

// ids checks an id list entry: set, well formed, unique. It returns false when
// the id is unusable.
func (v *validator) id(path, id string, re idKind, seen map[string]string) bool {
	switch {
	case id == "":
		v.add(path, "", "must be set")
		return false
	case !re.valid(id):
		if re == idShop {
			v.add(path, q(id), "must be lower-case letters, digits, '-' or '_' (at most 64)")
		} else {
			v.add(path, q(id), "must be a lower-case identifier: a letter, then letters, digits or '_' (at most 64)")
		}
		return false
	}
	if first, dup := seen[id]; dup {
		v.addf(path, q(id), "duplicate (first at %s)", first)
		return false
	}
	seen[id] = path
	return true
}

// refs checks that every entry names something known.
func (v *validator) refs(path string, list []string, known map[string]string, what string) {
	for i, r := range list {
		v.ref(idx(path, i), r, known, what)
	}
}

func (v *validator) ref(path, r string, known map[string]string, what string) bool {
	if r == "" {
		v.add(path, "", "must be set")
		return false
	}
	if _, ok := known[r]; !ok {
		v.addf(path, q(r), "unknown %s (known: %s)", what, knownList(known))
		return false
	}
	return true
}

func knownList(m map[string]string) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

func (v *validator) date(path, s string) (Date, bool) {
	if s == "" {
		v.add(path, "", "must be set")
		return Date{}, false
	}
	d, err := ParseDate(s)
	if err != nil {
		v.add(path, q(s), err.Error())
		return Date{}, false
	}
	return d, true
}

// span parses a span; required spans must be set, and every set span must be > 0.
func (v *validator) span(path, s string, required bool) (Span, bool) {
	if s == "" {
		if required {
			v.add(path, "", "must be set")
		}
		return Span{}, false
	}
	sp, err := ParseSpan(s)
	if err != nil {
		v.add(path, q(s), err.Error())
		return Span{}, false
	}
	if !sp.positive() {
		v.add(path, q(s), "must be > 0")
		return Span{}, false
	}
	return sp, true
}

// duration is a span that must be wall-clock time.
func (v *validator) duration(path, s string, required bool) (time.Duration, bool) {
	sp, ok := v.span(path, s, required)
	if !ok {
		return 0, false
	}
	if sp.InWorkingDays() {
		v.add(path, q(s), `must be a duration like "24h" or "7d", not working days`)
		return 0, false
	}
	return sp.Duration, true
}

func (v *validator) severity(path, s string, required bool) (Severity, bool) {
	if s == "" {
		if required {
			v.add(path, "", "must be set")
		}
		return "", false
	}
	sev := Severity(s)
	if !sev.Valid() {
		v.add(path, q(s), "unknown severity (known: normal, high, major, crisis)")
		return "", false
	}
	return sev, true
}

func (v *validator) money(path, s string, required bool) (Fen, bool) {
	if s == "" {
		if required {
			v.add(path, "", "must be set")
		}
		return 0, false
	}
	f, err := ParseYuan(s)
	if err != nil {
		v.add(path, q(s), err.Error())
		return 0, false
	}
	if f < 0 {
		v.add(path, q(s), "must be ≥ 0")
		return 0, false
	}
	return f, true
}

func (v *validator) nonNegative(path string, n int) {
	if n < 0 {
		v.add(path, strconv.Itoa(n), "must be ≥ 0")
	}
}

func (v *validator) policy(r *rawPolicy) *Policy {
	v.norm = NewNormalizer()
	p := &Policy{
		shops: map[string]int{}, channels: map[string]int{}, categories: map[string]int{},
		queues: map[string]int{}, signals: map[string]int{}, flags: map[string]int{}, levels: map[string]int{},
	}
	switch r.Version {
	case 1:
		p.Version = 1
	case 0:
		v.add("version", "", "must be set (this Kesu reads version 1)")
	default:
		v.add("version", strconv.Itoa(r.Version), "unsupported (this Kesu reads version 1)")
	}

	p.Calendar = v.holidays(r.Holidays)
	p.Seasons = v.seasons("seasons", r.Seasons, p.Calendar)
	v.shops(p, r.Shops)

	channelIDs := v.channels(p, r.Channels)
	categoryIDs := v.categories(p, r.Categories)
	if r.DefaultCategory == "" {
		v.add("default_category", "", "must be set")
	} else if v.ref("default_category", r.DefaultCategory, categoryIDs, "category") {
		p.DefaultCategory = r.DefaultCategory
	}
	v.tiers(p, r)
	queueIDs := v.queues(p, r.Queues)
	signalIDs := v.risk(p, &r.Risk, channelIDs)
	v.customerTypes(p, &r.CustomerTypes, signalIDs)
	v.routing(p, &r.Routing, channelIDs, categoryIDs, queueIDs)
	v.sla(p, &r.SLA, channelIDs, categoryIDs)
	v.escalation(p, &r.Escalation, queueIDs, signalIDs)
	v.followUp(p, &r.FollowUp, queueIDs)
	v.roster(p, &r.Roster, queueIDs)
	if d, ok := v.duration("disputes.fold_window", r.Disputes.FoldWindow, true); ok {
		p.Disputes.FoldWindow = d
	}

	if len(v.problems) > 0 {
		return nil
	}
	p.matcher = buildMatcher(v.norm, p)
	return p
}

func buildMatcher(norm *Normalizer, p *Policy) *Matcher {
	var cats, sigs, flags, cues matchKeywords
	for _, c := range p.Categories {
		cats.ids = append(cats.ids, c.ID)
		cats.keywords = append(cats.keywords, c.Keywords)
	}
	for _, s := range p.Risk.Signals {
		sigs.ids = append(sigs.ids, s.ID)
		sigs.keywords = append(sigs.keywords, s.Keywords)
	}
	for _, f := range p.Risk.Flags {
		flags.ids = append(flags.ids, f.ID)
		flags.keywords = append(flags.keywords, f.Keywords)
	}
	for _, c := range p.CustomerTypes.Cues {
		cues.ids = append(cues.ids, string(c.Type))
		cues.keywords = append(cues.keywords, c.Keywords)
	}
	return newMatcher(norm, cats, sigs, flags, cues)
}

// ---- shops and seasons

func (v *validator) shops(p *Policy, shops []rawShop) {
	if len(shops) == 0 {
		v.add("shops", "", "must list at least one shop")
		return
	}
	seen := map[string]string{}
	for i, s := range shops {
		path := idx("shops", i)
		ok := v.id(path+".id", s.ID, idShop, seen)
		sh := Shop{ID: s.ID, Name: v.name(path+".name", s.Name), TimeZone: s.TimeZone}
		if sh.TimeZone == "" {
			sh.TimeZone = DefaultTimeZone
		}
		loc, err := time.LoadLocation(sh.TimeZone)
		if err != nil || sh.TimeZone == "Local" {
			v.add(path+".time_zone", q(sh.TimeZone), "unknown time zone: want an IANA name like Asia/Shanghai")
		}
		sh.Location = loc
		if s.Seasons != nil {
			sh.Seasons = v.seasons(path+".seasons", s.Seasons, p.Calendar)
		}
		if ok {
			p.shops[sh.ID] = len(p.Shops)
		}
		p.Shops = append(p.Shops, sh)
	}
}

func sortedYearKeys[T any](m map[string]T) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		a, errA := strconv.Atoi(ks[i])
		b, errB := strconv.Atoi(ks[j])
		if errA == nil && errB == nil {
			return a < b
		}
		return ks[i] < ks[j]
	})
	return ks
}

func (v *validator) year(path, key string) (int, bool) {
	y, err := strconv.Atoi(key)
	if err != nil || y < 2000 || y > 2100 || strconv.Itoa(y) != key {
		v.add(path, "", "key must be a year like 2026")
		return 0, false
	}
	return y, true
}

func (v *validator) seasons(path string, m map[string]rawSeason, cal *Calendar) map[int]Season {
	out := map[int]Season{}
	for _, key := range sortedYearKeys(m) {
		rs := m[key]
		sp := path + "." + key
		year, ok := v.year(sp, key)
		if !ok {
			continue
		}
		s := Season{Year: year, Name: v.name(sp+".name", rs.Name)}
		startOK, endOK := false, false
		if s.Start, startOK = v.date(sp+".start", rs.Start); startOK && s.Start.Year != year {
			v.addf(sp+".start", s.Start.String(), "must be in %d", year)
			startOK = false
		}
		if s.End, endOK = v.date(sp+".end", rs.End); endOK && startOK && s.End.Before(s.Start) {
			v.addf(sp+".end", s.End.String(), "must not be before start %s", s.Start)
			endOK = false
		}
		if cal != nil {
			if startOK && !cal.Covers(s.Start.Year) {
				v.addf(sp, "", "no holiday calendar for %d (add holidays.%d): working-day clocks would fail in this season", s.Start.Year, s.Start.Year)
			} else if endOK && !cal.Covers(s.End.Year) {
				v.addf(sp, "", "no holiday calendar for %d (add holidays.%d): working-day clocks would fail in this season", s.End.Year, s.End.Year)
			}
		}
		if len(rs.Phases) == 0 {
			v.add(sp+".phases", "", "must list at least one phase")
		}
		var prev *PhaseRange
		contiguous := startOK && endOK
		for i, rp := range rs.Phases {
			pp := idx(sp+".phases", i)
			ph := Phase(rp.Phase)
			switch {
			case rp.Phase == "":
				v.add(pp+".phase", "", "must be set")
				contiguous = false
			case ph.order() == 0:
				v.add(pp+".phase", q(rp.Phase), "unknown phase (known: preparation, battle, aftermath)")
				contiguous = false
			case prev != nil && prev.Phase.order() > 0 && ph.order() <= prev.Phase.order():
				v.addf(pp+".phase", q(rp.Phase), "must come after %s (phases run preparation, battle, aftermath, each at most once)", prev.Phase)
			}
			r := PhaseRange{Phase: ph}
			var okS, okE bool
			r.Start, okS = v.date(pp+".start", rp.Start)
			r.End, okE = v.date(pp+".end", rp.End)
			if okS && okE && r.End.Before(r.Start) {
				v.addf(pp+".end", r.End.String(), "must not be before start %s", r.Start)
				okE = false
			}
			if okS && contiguous {
				switch {
				case prev == nil && r.Start != s.Start:
					v.addf(pp+".start", r.Start.String(), "must equal the season start %s", s.Start)
				case prev != nil && !prev.End.IsZero() && r.Start != prev.End.AddDays(1):
					v.addf(pp+".start", r.Start.String(), "must follow %s end %s directly", prev.Phase, prev.End)
				}
			}
			if okE && contiguous && i == len(rs.Phases)-1 && r.End != s.End {
				v.addf(pp+".end", r.End.String(), "must equal the season end %s", s.End)
			}
			if !okS || !okE {
				contiguous = false
			}
			s.Phases = append(s.Phases, r)
			prev = &s.Phases[len(s.Phases)-1]
		}
		out[year] = s
	}
	return out
}

// ---- channels and categories

func (v *validator) channels(p *Policy, chans []rawChannel) map[string]string {
	seen := map[string]string{}
	if len(chans) == 0 {
		v.add("channels", "", "must list at least one channel")
	}
	for i, c := range chans {
		path := idx("channels", i)
		ok := v.id(path+".id", c.ID, idPlain, seen)
		ch := Channel{ID: c.ID, Name: v.name(path+".name", c.Name), Public: c.Public, Fields: c.Fields, RequiredFields: c.RequiredFields}
		fields := map[string]string{}
		for j, f := range c.Fields {
			v.id(idx(path+".fields", j), f, idPlain, fields)
		}
		for j, f := range c.RequiredFields {
			if _, ok := fields[f]; !ok {
				v.add(idx(path+".required_fields", j), q(f), "not in fields")
			}
		}
		if ok {
			p.channels[ch.ID] = len(p.Channels)
		}
		p.Channels = append(p.Channels, ch)
	}
	return seen
}

// keywords checks a keyword list: entries non-empty after normalisation and
// no exact repeats (a repeat is usually a copy-paste slip that hides a
// missing traditional or simplified form).
func (v *validator) keywords(path string, kws []string, required bool) []string {
	if len(kws) == 0 && required {
		v.add(path, "", "must list at least one keyword")
	}
	seen := map[string]int{}
	out := make([]string, 0, len(kws))
	for i, kw := range kws {
		kp := idx(path, i)
		if v.norm.Normalize(kw) == "" {
			v.add(kp, q(kw), "empty after normalisation")
			continue
		}
		if j, dup := seen[kw]; dup {
			v.addf(kp, q(kw), "duplicate of %s", idx(path, j))
			continue
		}
		seen[kw] = i
		out = append(out, kw)
	}
	return out
}

func (v *validator) categories(p *Policy, cats []rawCategory) map[string]string {
	seen := map[string]string{}
	if len(cats) == 0 {
		v.add("categories", "", "must list at least one category")
	}
	for i, c := range cats {
		path := idx("categories", i)
		ok := v.id(path+".id", c.ID, idPlain, seen)
		cat := Category{ID: c.ID, Name: v.name(path+".name", c.Name), Keywords: v.keywords(path+".keywords", c.Keywords, true)}
		if ok {
			p.categories[cat.ID] = len(p.Categories)
		}
		p.Categories = append(p.Categories, cat)
	}
	return seen
}

// ---- tiers and queues

func (v *validator) tiers(p *Policy, r *rawPolicy) {
	if len(r.Tiers) == 0 {
		v.add("tiers", "", "must list at least one tier")
	}
	var prev *Tier
	for i, t := range r.Tiers {
		path := idx("tiers", i)
		if t.Tier != i+1 {
			v.addf(path+".tier", strconv.Itoa(t.Tier), "must be %d (tiers are numbered 1, 2, 3… in order)", i+1)
		}
		tier := Tier{Level: i + 1, Name: v.name(path+".name", t.Name)}
		amount, ok := v.money(path+".refund_cap", t.RefundCap, true)
		tier.RefundCap = Cap{Amount: amount}
		if ok && prev != nil && !tier.RefundCap.AtLeast(prev.RefundCap) {
			v.addf(path+".refund_cap", q(t.RefundCap), "must be ≥ tier %d's cap %s", prev.Level, prev.RefundCap)
		}
		p.Tiers = append(p.Tiers, tier)
		if ok {
			prev = &p.Tiers[len(p.Tiers)-1]
		}
	}
	switch s := strings.TrimSpace(r.SupervisorRefundCap); s {
	case "":
		v.add("supervisor_refund_cap", "", `must be set (an amount in yuan or "unlimited")`)
	case "unlimited":
		p.SupervisorRefundCap = Cap{Unlimited: true}
	default:
		if f, ok := v.money("supervisor_refund_cap", s, true); ok {
			p.SupervisorRefundCap = Cap{Amount: f}
			if prev != nil && !p.SupervisorRefundCap.AtLeast(prev.RefundCap) {
				v.addf("supervisor_refund_cap", q(s), "must be ≥ tier %d's cap %s", prev.Level, prev.RefundCap)
			}
		}
	}
}

func (v *validator) queues(p *Policy, qs []rawQueue) map[string]string {
	seen := map[string]string{}
	if len(qs) == 0 {
		v.add("queues", "", "must list at least one queue")
	}
	for i, rq := range qs {
		path := idx("queues", i)
		ok := v.id(path+".id", rq.ID, idPlain, seen)
		qu := Queue{ID: rq.ID, Name: v.name(path+".name", rq.Name), MinTier: rq.MinTier, MaxPerAgent: rq.MaxPerAgent}
		if rq.MinTier < 1 || rq.MinTier > len(p.Tiers) {
			v.addf(path+".min_tier", strconv.Itoa(rq.MinTier), "no such tier (tiers 1–%d)", len(p.Tiers))
		}
		if rq.MaxPerAgent < 1 {
			v.add(path+".max_per_agent", strconv.Itoa(rq.MaxPerAgent), "must be ≥ 1")
		}
		if ok {
			p.queues[qu.ID] = len(p.Queues)
		}
		p.Queues = append(p.Queues, qu)
	}
	return seen
}

// ---- risk

// signalList checks risk signals (isSignal) or complainant flags, which share
// a shape; flags need no keywords and cannot derive from facts.
func (v *validator) signalList(path string, rs []rawSignal, isSignal bool) ([]Signal, map[string]string) {
	seen := map[string]string{}
	var out []Signal
	for i, s := range rs {
		sp := idx(path, i)
		v.id(sp+".id", s.ID, idPlain, seen)
		// A signal derived from a fact needs no words.
		sig := Signal{ID: s.ID, Name: v.name(sp+".name", s.Name), Public: s.Public, Weight: s.Weight,
			Keywords: v.keywords(sp+".keywords", s.Keywords, isSignal && s.From == nil)}
		v.nonNegative(sp+".weight", s.Weight)
		sig.Severity, _ = v.severity(sp+".severity", s.Severity, false)
		if s.From != nil && isSignal {
			sig.From = v.derivation(sp+".from", *s.From)
		}
		out = append(out, sig)
	}
	return out, seen
}

const knownFacts = "amount, followers, repeat_contacts, transfers"

// derivation checks a signal's `from`: a known fact and the threshold key
// that fits it (money for the amount, a count for the rest).
func (v *validator) derivation(path string, r rawDerivation) *Derivation {
	f := Fact(r.Fact)
	switch {
	case r.Fact == "":
		v.add(path+".fact", "", "must be set (known: "+knownFacts+")")
		return nil
	case !f.Valid():
		v.add(path+".fact", q(r.Fact), "unknown fact (known: "+knownFacts+")")
		return nil
	}
	d := &Derivation{Fact: f}
	if f == FactAmount {
		if r.AtLeast != 0 {
			v.add(path+".at_least", strconv.FormatInt(r.AtLeast, 10), "not used with fact amount (use min_amount, in yuan)")
		}
		amount, ok := v.money(path+".min_amount", r.MinAmount, true)
		if ok && amount <= 0 {
			v.add(path+".min_amount", q(r.MinAmount), "must be > 0")
			ok = false
		}
		if !ok {
			return nil
		}
		d.AtLeast = int64(amount)
		return d
	}
	if r.MinAmount != "" {
		v.add(path+".min_amount", q(r.MinAmount), "only used with fact amount (use at_least)")
	}
	if r.AtLeast < 1 {
		v.add(path+".at_least", strconv.FormatInt(r.AtLeast, 10), "must be ≥ 1")
		return nil
	}
	d.AtLeast = r.AtLeast
	return d
}

func (v *validator) risk(p *Policy, r *rawRisk, channels map[string]string) (signals map[string]string) {
	p.Risk.Signals, signals = v.signalList("risk.signals", r.Signals, true)
	for i, s := range p.Risk.Signals {
		p.signals[s.ID] = i
	}
	for i, f := range r.Flags {
		if f.Public {
			v.add(idx("risk.complainant_flags", i)+".public", "true", "only risk signals can be public")
		}
		if f.From != nil {
			v.add(idx("risk.complainant_flags", i)+".from", "", "only risk signals can be derived from facts (flags come from the customer profile or keywords)")
		}
	}
	fs, flags := v.signalList("risk.complainant_flags", r.Flags, false)
	for i, f := range fs {
		// A classification names signals and flags by id in one list.
		if _, clash := signals[f.ID]; clash {
			v.add(idx("risk.complainant_flags", i)+".id", q(f.ID), "also a signal id (signal and flag ids share one namespace of risk codes)")
		}
		p.Risk.Flags = append(p.Risk.Flags, Flag{ID: f.ID, Name: f.Name, Weight: f.Weight, Severity: f.Severity, Keywords: f.Keywords})
		p.flags[f.ID] = i
	}
	for i, rr := range r.SeverityRules {
		path := idx("risk.severity_rules", i)
		rule := SeverityRule{Name: rr.Name}
		if rule.Name == "" {
			v.add(path+".name", "", "must be set")
		}
		if sev, ok := v.severity(path+".severity", rr.Severity, true); ok {
			if sev == SeverityNormal {
				v.add(path+".severity", q(rr.Severity), "must be high, major or crisis (a rule only raises severity)")
			}
			rule.Severity = sev
		}
		w := rr.When
		wp := path + ".when"
		v.refs(wp+".any_signal", w.AnySignal, signals, "signal")
		v.refs(wp+".any_flag", w.AnyFlag, flags, "complainant flag")
		v.refs(wp+".all_flags", w.AllFlags, flags, "complainant flag")
		v.refs(wp+".channels", w.Channels, channels, "channel")
		v.nonNegative(wp+".public_signals_at_least", w.PublicSignalsAtLeast)
		v.nonNegative(wp+".score_at_least", w.ScoreAtLeast)
		v.nonNegative(wp+".repeat_contacts_at_least", w.RepeatContactsAtLeast)
		v.nonNegative(wp+".transfers_at_least", w.TransfersAtLeast)
		if len(w.AnySignal)+len(w.AnyFlag)+len(w.AllFlags)+len(w.Channels) == 0 &&
			w.PublicSignalsAtLeast <= 0 && w.ScoreAtLeast <= 0 && w.RepeatContactsAtLeast <= 0 && w.TransfersAtLeast <= 0 {
			v.add(wp, "", "must set at least one condition")
		}
		rule.When = RiskCondition{AnySignal: w.AnySignal, AnyFlag: w.AnyFlag, AllFlags: w.AllFlags, Channels: w.Channels,
			PublicSignalsAtLeast: w.PublicSignalsAtLeast, ScoreAtLeast: w.ScoreAtLeast,
			RepeatContactsAtLeast: w.RepeatContactsAtLeast, TransfersAtLeast: w.TransfersAtLeast}
		p.Risk.Rules = append(p.Risk.Rules, rule)
	}
	return signals
}

// ---- customer types

const knownCustomerTypes = "aggressive, habitual, quiet"

func (v *validator) customerType(path, s string) (CustomerType, bool) {
	t := CustomerType(s)
	switch {
	case s == "":
		v.add(path, "", "must be set (known: "+knownCustomerTypes+")")
		return "", false
	case !t.Valid():
		v.add(path, q(s), "unknown customer type (known: "+knownCustomerTypes+")")
		return "", false
	}
	return t, true
}

// customerTypes checks the optional customer_types section: without it the
// classifier hints no customer type.
func (v *validator) customerTypes(p *Policy, r *rawCustomerTypes, signals map[string]string) {
	if r.Default == "" && len(r.Cues) == 0 {
		return
	}
	p.CustomerTypes.Default, _ = v.customerType("customer_types.default", r.Default)
	seen := map[CustomerType]string{}
	for i, c := range r.Cues {
		path := idx("customer_types.cues", i)
		t, ok := v.customerType(path+".type", c.Type)
		if ok {
			if first, dup := seen[t]; dup {
				v.addf(path+".type", q(c.Type), "duplicate (first at %s)", first)
			}
			seen[t] = path + ".type"
		}
		v.refs(path+".signals", c.Signals, signals, "signal")
		v.nonNegative(path+".repeat_contacts_at_least", c.RepeatContactsAtLeast)
		cue := CustomerTypeCues{Type: t, Keywords: v.keywords(path+".keywords", c.Keywords, false),
			Signals: c.Signals, RepeatContactsAtLeast: c.RepeatContactsAtLeast}
		if len(c.Keywords)+len(c.Signals) == 0 && c.RepeatContactsAtLeast == 0 {
			v.add(path, "", "must set at least one cue: keywords, signals or repeat_contacts_at_least")
		}
		p.CustomerTypes.Cues = append(p.CustomerTypes.Cues, cue)
	}
}

// ---- routing

func (v *validator) priority(path string, n int) {
	if n < 0 || n > 100 {
		v.add(path, strconv.Itoa(n), "must be between 0 and 100")
	}
}

func (v *validator) routing(p *Policy, r *rawRouting, channels, categories, queues map[string]string) {
	if v.ref("routing.default_queue", r.DefaultQueue, queues, "queue") {
		p.Routing.DefaultQueue = r.DefaultQueue
	}
	v.priority("routing.default_priority", r.DefaultPriority)
	p.Routing.DefaultPriority = r.DefaultPriority
	for i, rr := range r.Rules {
		path := idx("routing.rules", i)
		rule := RouteRule{Name: rr.Name, Queue: rr.Queue, Priority: rr.Priority, Tier: rr.Tier}
		if rule.Name == "" {
			rule.Name = path
		}
		v.ref(path+".queue", rr.Queue, queues, "queue")
		v.priority(path+".priority", rr.Priority)
		if rr.Tier != 0 && (rr.Tier < 1 || rr.Tier > len(p.Tiers)) {
			v.addf(path+".tier", strconv.Itoa(rr.Tier), "no such tier (tiers 1–%d)", len(p.Tiers))
		}
		m := rr.Match
		mp := path + ".match"
		v.refs(mp+".categories", m.Categories, categories, "category")
		v.refs(mp+".channels", m.Channels, channels, "channel")
		rule.Match = RouteMatch{Categories: m.Categories, Channels: m.Channels, VIP: m.VIP, MinTierNeeded: m.MinTierNeeded}
		rule.Match.MinSeverity, _ = v.severity(mp+".min_severity", m.MinSeverity, false)
		if f, ok := v.money(mp+".min_amount", m.MinAmount, false); ok {
			rule.Match.MinAmount = &f
		}
		if f, ok := v.money(mp+".max_amount", m.MaxAmount, false); ok {
			rule.Match.MaxAmount = &f
			if rule.Match.MinAmount != nil && f < *rule.Match.MinAmount {
				v.addf(mp+".max_amount", q(m.MaxAmount), "must be ≥ min_amount %s", *rule.Match.MinAmount)
			}
		}
		if m.MinTierNeeded < 0 || m.MinTierNeeded > len(p.Tiers)+1 {
			v.addf(mp+".min_tier_needed", strconv.Itoa(m.MinTierNeeded), "must be between 1 and %d (%d means only a supervisor can approve)", len(p.Tiers)+1, len(p.Tiers)+1)
		}
		p.Routing.Rules = append(p.Routing.Rules, rule)
	}
}

// ---- SLA

func (v *validator) knownClock(path, key string) (Clock, bool) {
	c := Clock(key)
	if !c.Valid() {
		names := make([]string, 0, 6)
		for _, k := range Clocks() {
			names = append(names, string(k))
		}
		v.addf(path, "", "unknown clock (known: %s)", strings.Join(names, ", "))
		return "", false
	}
	return c, true
}

func sortedKeys[T any](m map[string]T) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// warn parses a warning point and checks it against the limit it warns of.
func (v *validator) warn(path, s string, limit Span, required bool) Warn {
	if s == "" {
		if required {
			v.add(path, "", `must be set (a percentage like "80%" or a span before the breach like "30m")`)
		}
		return Warn{}
	}
	w, err := parseWarn(s)
	switch {
	case err != nil:
		v.add(path, q(s), err.Error())
		return Warn{}
	case w.Before.IsZero() && (w.Fraction <= 0 || w.Fraction >= 1):
		v.add(path, q(s), "must be between 0% and 100% (exclusive)")
		return Warn{}
	case !w.Before.IsZero() && !w.Before.positive():
		v.add(path, q(s), "must be > 0")
		return Warn{}
	case !w.Before.IsZero() && !limit.IsZero() && w.Before.sameUnit(limit) && !w.Before.less(limit):
		v.addf(path, q(s), "must be shorter than the limit %q", limit.String())
		return Warn{}
	}
	return w
}

// patch reads override values, each in the unit of the base clock's limit so
// they can be compared and tightened.
func (v *validator) patch(path string, rc rawClock, base ClockSLA, haveBase bool) ClockPatch {
	var pt ClockPatch
	if len(rc.Channels) > 0 {
		v.add(path+".channels", "", "only allowed in sla.clocks")
	}
	if rc.Target == "" && rc.Limit == "" && rc.Warn == "" {
		v.add(path, "", "must set target, limit or warn")
	}
	unit := func(p, raw string, s Span) Span {
		if haveBase && !base.Limit.IsZero() && !s.sameUnit(base.Limit) {
			v.addf(p, q(raw), "must use the unit of sla.clocks.%s.limit %q", base.Clock, base.Limit.String())
			return Span{}
		}
		return s
	}
	if s, ok := v.span(path+".target", rc.Target, false); ok {
		pt.Target = unit(path+".target", rc.Target, s)
	}
	if s, ok := v.span(path+".limit", rc.Limit, false); ok {
		pt.Limit = unit(path+".limit", rc.Limit, s)
	}
	if !pt.Target.IsZero() && !pt.Limit.IsZero() && pt.Limit.less(pt.Target) {
		v.addf(path+".target", q(rc.Target), "must not exceed limit %q", rc.Limit)
	}
	limit := pt.Limit
	if limit.IsZero() {
		limit = base.Limit
	}
	pt.Warn = v.warn(path+".warn", rc.Warn, limit, false)
	return pt
}

func (v *validator) sla(p *Policy, r *rawSLA, channels, categories map[string]string) {
	p.SLA.Clocks = map[Clock]ClockSLA{}
	for _, key := range sortedKeys(r.Clocks) {
		path := "sla.clocks." + key
		c, ok := v.knownClock(path, key)
		if !ok {
			continue
		}
		rc := r.Clocks[key]
		cs := ClockSLA{Clock: c, Channels: rc.Channels}
		cs.Limit, _ = v.span(path+".limit", rc.Limit, true)
		if t, ok := v.span(path+".target", rc.Target, false); ok {
			switch {
			case !cs.Limit.IsZero() && !t.sameUnit(cs.Limit):
				v.addf(path+".target", q(rc.Target), "must use the unit of limit %q", rc.Limit)
			case !cs.Limit.IsZero() && cs.Limit.less(t):
				v.addf(path+".target", q(rc.Target), "must not exceed limit %q", rc.Limit)
			default:
				cs.Target = t
			}
		}
		cs.Warn = v.warn(path+".warn", rc.Warn, cs.Limit, true)
		v.refs(path+".channels", rc.Channels, channels, "channel")
		p.SLA.Clocks[c] = cs
	}
	for _, c := range Clocks() {
		if _, ok := r.Clocks[string(c)]; !ok {
			v.add("sla.clocks."+string(c), "", "must be set")
		}
	}
	p.SLA.Channels = map[string]map[Clock]ClockPatch{}
	for _, ch := range sortedKeys(r.Channels) {
		path := "sla.channels." + ch
		if _, ok := channels[ch]; !ok {
			v.addf(path, "", "unknown channel (known: %s)", knownList(channels))
			continue
		}
		p.SLA.Channels[ch] = map[Clock]ClockPatch{}
		for _, key := range sortedKeys(r.Channels[ch]) {
			cp := path + "." + key
			c, ok := v.knownClock(cp, key)
			if !ok {
				continue
			}
			base, have := p.SLA.Clocks[c]
			p.SLA.Channels[ch][c] = v.patch(cp, r.Channels[ch][key], base, have)
		}
	}
	for i, ro := range r.Overrides {
		path := idx("sla.overrides", i)
		o := SLAOverride{Name: ro.Name, Clocks: map[Clock]ClockPatch{}}
		if o.Name == "" {
			o.Name = path
		}
		w := ro.When
		wp := path + ".when"
		v.refs(wp+".channels", w.Channels, channels, "channel")
		v.refs(wp+".categories", w.Categories, categories, "category")
		o.When = SLACondition{Channels: w.Channels, Categories: w.Categories}
		o.When.MinSeverity, _ = v.severity(wp+".min_severity", w.MinSeverity, false)
		for j, ph := range w.Phases {
			if !Phase(ph).Valid() {
				v.add(idx(wp+".phases", j), q(ph), "unknown phase (known: preparation, battle, aftermath, off_season)")
				continue
			}
			o.When.Phases = append(o.When.Phases, Phase(ph))
		}
		if len(w.Channels)+len(w.Categories)+len(w.Phases) == 0 && w.MinSeverity == "" {
			v.add(wp, "", "must set at least one condition (channels, categories, min_severity or phases)")
		}
		if len(ro.Clocks) == 0 {
			v.add(path+".clocks", "", "must change at least one clock")
		}
		for _, key := range sortedKeys(ro.Clocks) {
			cp := path + ".clocks." + key
			c, ok := v.knownClock(cp, key)
			if !ok {
				continue
			}
			base, have := p.SLA.Clocks[c]
			o.Clocks[c] = v.patch(cp, ro.Clocks[key], base, have)
		}
		p.SLA.Overrides = append(p.SLA.Overrides, o)
	}
}

// ---- escalation and follow-up

func (v *validator) escalation(p *Policy, r *rawEscalation, queues, signals map[string]string) {
	seen := map[string]string{}
	if len(r.Levels) < 2 {
		v.add("escalation.levels", "", "must list at least two levels (the front line and one above it)")
	}
	for i, rl := range r.Levels {
		path := idx("escalation.levels", i)
		if rl.ID == ToNext {
			v.add(path+".id", q(rl.ID), `reserved: "next" means one level up in triggers`)
		} else if v.id(path+".id", rl.ID, idPlain, seen) {
			p.levels[rl.ID] = i
		}
		lv := Level{ID: rl.ID, Name: v.name(path+".name", rl.Name), Queue: rl.Queue, Alert: rl.Alert}
		if rl.Queue != "" {
			v.ref(path+".queue", rl.Queue, queues, "queue")
		}
		p.Escalation.Levels = append(p.Escalation.Levels, lv)
	}
	events := make([]string, 0, 7)
	for _, e := range triggerEvents() {
		events = append(events, string(e))
	}
	for i, rt := range r.Triggers {
		path := idx("escalation.triggers", i)
		t := Trigger{Event: TriggerEvent(rt.Event), MinSeverity: Severity(rt.MinSeverity), Signals: rt.Signals, AtLeast: rt.AtLeast, To: rt.To, Alert: rt.Alert}
		if rt.Event == "" {
			v.add(path+".event", "", "must be set")
		} else if !slices.Contains(events, rt.Event) {
			v.addf(path+".event", q(rt.Event), "unknown event (known: %s)", strings.Join(events, ", "))
		}
		switch {
		case rt.To == "":
			v.add(path+".to", "", `must be set (a level id or "next")`)
		case rt.To != ToNext:
			v.ref(path+".to", rt.To, seen, "level")
		}
		known := slices.Contains(events, rt.Event)
		notFor := func(key, value string, set bool, users string) {
			if set && known { // an unknown event already says what is wrong
				v.addf(path+"."+key, value, "only used by %s triggers", users)
			}
		}
		e := TriggerEvent(rt.Event)
		if e == TriggerBreach {
			for j, c := range rt.Clocks {
				if !Clock(c).Valid() {
					v.add(idx(path+".clocks", j), q(c), "unknown clock")
					continue
				}
				t.Clocks = append(t.Clocks, Clock(c))
			}
		} else {
			notFor("clocks", "", len(rt.Clocks) > 0, "breach")
		}
		if e == TriggerSeverity {
			v.severity(path+".min_severity", rt.MinSeverity, true)
		} else {
			notFor("min_severity", q(rt.MinSeverity), rt.MinSeverity != "", "severity")
		}
		if e == TriggerSignal {
			if len(rt.Signals) == 0 {
				v.add(path+".signals", "", "must list at least one signal")
			}
			v.refs(path+".signals", rt.Signals, signals, "signal")
		} else {
			notFor("signals", "", len(rt.Signals) > 0, "signal")
		}
		if e == TriggerRepeatContacts || e == TriggerTransfers {
			if rt.AtLeast < 1 {
				v.add(path+".at_least", strconv.Itoa(rt.AtLeast), "must be ≥ 1")
			}
		} else {
			notFor("at_least", strconv.Itoa(rt.AtLeast), rt.AtLeast != 0, "repeat_contacts and transfers")
		}
		p.Escalation.Triggers = append(p.Escalation.Triggers, t)
	}
}

func (v *validator) followUp(p *Policy, r *rawFollowUp, queues map[string]string) {
	f := &p.FollowUp
	if sp, err := ParseSpan(r.Delay); r.Delay != "" && err == nil && sp.IsZero() {
		f.Delay = 0 // follow up as soon as resolved
	} else if d, ok := v.duration("followup.delay", r.Delay, true); ok {
		f.Delay = d
		if lim := p.SLA.Clocks[ClockFollowUp].Limit; !lim.InWorkingDays() && lim.Duration > 0 && d >= lim.Duration {
			v.addf("followup.delay", q(r.Delay), "must be shorter than sla.clocks.followup.limit %q", lim.String())
		}
	}
	f.ImmediateMinSeverity, _ = v.severity("followup.immediate_min_severity", r.ImmediateMinSeverity, false)
	for i, s := range r.RetryAfter {
		if d, ok := v.duration(idx("followup.retry_after", i), s, true); ok {
			f.RetryAfter = append(f.RetryAfter, d)
		}
	}
	f.MaxAttempts = r.MaxAttempts
	if r.MaxAttempts < 1 {
		v.add("followup.max_attempts", strconv.Itoa(r.MaxAttempts), "must be ≥ 1")
	} else if r.MaxAttempts > 1 && len(r.RetryAfter) == 0 {
		v.add("followup.retry_after", "", "must list at least one wait when max_attempts > 1")
	}
	f.ReopenWindow, _ = v.duration("followup.reopen_window", r.ReopenWindow, true)
	f.ReopenOnDissatisfied = r.ReopenOnDissatisfied
	s := r.Satisfaction
	f.Satisfaction = Satisfaction{Scale: s.Scale, SatisfiedMin: s.SatisfiedMin, DissatisfiedMax: s.DissatisfiedMax}
	switch {
	case s.Scale < 2 || s.Scale > 10:
		v.add("followup.satisfaction.scale", strconv.Itoa(s.Scale), "must be between 2 and 10")
	case s.DissatisfiedMax < 1:
		v.add("followup.satisfaction.dissatisfied_max", strconv.Itoa(s.DissatisfiedMax), "must be ≥ 1")
	case s.SatisfiedMin <= s.DissatisfiedMax || s.SatisfiedMin > s.Scale:
		v.addf("followup.satisfaction.satisfied_min", strconv.Itoa(s.SatisfiedMin), "must be above dissatisfied_max %d and at most scale %d", s.DissatisfiedMax, s.Scale)
	}
	if v.ref("followup.queue", r.Queue, queues, "queue") {
		f.Queue = r.Queue
	}
	f.SweepAlertBefore = DefaultSweepAlertBefore
	if r.SweepAlertBefore != "" {
		if d, ok := v.duration("followup.sweep_alert_before", r.SweepAlertBefore, true); ok {
			f.SweepAlertBefore = d
		}
	}
}

// ---- holidays

func (v *validator) holidays(m map[string]rawHolidayYear) *Calendar {
	if len(m) == 0 {
		v.add("holidays", "", "must list at least one year")
		return newCalendar(nil)
	}
	type span struct {
		path       string
		name       string
		start, end Date
	}
	var years []CalendarYear
	var periods []span
	type makeup struct {
		path string
		d    Date
	}
	var makeups []makeup
	for _, key := range sortedYearKeys(m) {
		path := "holidays." + key
		year, ok := v.year(path, key)
		if !ok {
			continue
		}
		ry := m[key]
		cy := CalendarYear{Year: year, Source: ry.Source, Provisional: ry.Provisional}
		if len(ry.Periods) == 0 {
			v.add(path+".periods", "", "must list the year's holidays")
		}
		for i, rp := range ry.Periods {
			pp := idx(path+".periods", i)
			hp := HolidayPeriod{Name: v.name(pp+".name", rp.Name)}
			var okS, okE bool
			hp.Start, okS = v.date(pp+".start", rp.Start)
			hp.End, okE = v.date(pp+".end", rp.End)
			if okS && okE {
				switch {
				case hp.End.Before(hp.Start):
					v.addf(pp+".end", hp.End.String(), "must not be before start %s", hp.Start)
					okE = false
				case daysBetween(hp.Start, hp.End) >= 15:
					v.addf(pp+".end", hp.End.String(), "makes a holiday of %d days; at most 15", daysBetween(hp.Start, hp.End)+1)
					okE = false
				case hp.Start.Year != year && hp.End.Year != year:
					v.addf(pp+".start", hp.Start.String(), "must be in %d", year)
					okS = false
				}
			}
			if okS && okE {
				for _, o := range periods {
					if !hp.Start.After(o.end) && !hp.End.Before(o.start) {
						v.addf(pp+".start", hp.Start.String(), "overlaps %s %s..%s (%s)", o.name, o.start, o.end, o.path)
					}
				}
				periods = append(periods, span{path: pp, name: hp.Name.ZhCN, start: hp.Start, end: hp.End})
			}
			for j, s := range rp.MakeupWorkdays {
				mp := idx(pp+".makeup_workdays", j)
				d, ok := v.date(mp, s)
				if !ok {
					continue
				}
				if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
					v.addf(mp, d.String(), "is a %s; a make-up working day (调休) falls on a Saturday or Sunday", wd)
					continue
				}
				if okS && okE && (daysBetween(d, hp.Start) > 31 || daysBetween(hp.End, d) > 31) {
					v.addf(mp, d.String(), "is more than 31 days from the holiday %s..%s", hp.Start, hp.End)
					continue
				}
				makeups = append(makeups, makeup{path: mp, d: d})
				hp.MakeupWorkdays = append(hp.MakeupWorkdays, d)
			}
			cy.Periods = append(cy.Periods, hp)
		}
		years = append(years, cy)
	}
	for _, mk := range makeups {
		for _, o := range periods {
			if !mk.d.Before(o.start) && !mk.d.After(o.end) {
				v.addf(mk.path, mk.d.String(), "falls in the holiday %s %s..%s", o.name, o.start, o.end)
			}
		}
	}
	return newCalendar(years)
}
