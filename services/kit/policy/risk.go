package policy

import (
	"fmt"
	"slices"
)

// Severity is how dangerous a complaint is, in increasing order.
type Severity string

// The severity levels, lowest first.
const (
	SeverityNormal Severity = "normal"
	SeverityHigh   Severity = "high"
	SeverityMajor  Severity = "major"  // 重大客诉
	SeverityCrisis Severity = "crisis" // may become public: PR
)

// Rank orders severities: normal 1 … crisis 4; 0 for an unknown value.
func (s Severity) Rank() int {
	switch s {
	case SeverityNormal:
		return 1
	case SeverityHigh:
		return 2
	case SeverityMajor:
		return 3
	case SeverityCrisis:
		return 4
	}
	return 0
}

// Valid reports whether s is a known severity.
func (s Severity) Valid() bool { return s.Rank() > 0 }

// AtLeast reports whether s is as severe as o or more.
func (s Severity) AtLeast(o Severity) bool { return s.Rank() >= o.Rank() }

// Max is the more severe of s and o.
func (s Severity) Max(o Severity) Severity {
	if o.Rank() > s.Rank() {
		return o
	}
	return s
}

// DisplayName names the severity for people.
func (s Severity) DisplayName() DisplayName {
	switch s {
	case SeverityHigh:
		return DisplayName{ZhCN: "较高", En: "High"}
	case SeverityMajor:
		return DisplayName{ZhCN: "重大", En: "Major"}
	case SeverityCrisis:
		return DisplayName{ZhCN: "危机", En: "Crisis"}
	}
	return DisplayName{ZhCN: "一般", En: "Normal"}
}

// Signal is a risk signal found in what the complainant says (a threat of
// 315, 12315, exposure, a lawsuit, a punitive-damages claim…).
type Signal struct {
	ID   string
	Name DisplayName
	// Public signals threaten to take the complaint outside (regulator,
	// consumer association, media); rules count them.
	Public bool
	// Weight adds to the complaint's risk score.
	Weight int
	// Severity is the least severity a complaint with this signal gets; ""
	// when the signal only adds weight.
	Severity Severity
	Keywords []string
	// From, when set, also raises the signal from a counted fact (the third
	// contact, two transfers, a large amount), so what the complainant did
	// weighs like what they said. nil for a signal found only in words.
	From *Derivation
}

// Fact is something counted about a complaint that a signal can derive from.
type Fact string

// The facts a signal can derive from.
const (
	// FactRepeatContacts counts contacts after the first (多次进线).
	FactRepeatContacts Fact = "repeat_contacts"
	// FactTransfers counts hand-overs between agents or queues (踢皮球).
	FactTransfers Fact = "transfers"
	// FactAmount is the money in dispute in fen: the larger of the claimed
	// and the order amount.
	FactAmount Fact = "amount"
	// FactFollowers is the reach of the complainant's public post.
	FactFollowers Fact = "followers"
)

// Valid reports whether f is a known fact.
func (f Fact) Valid() bool {
	switch f {
	case FactRepeatContacts, FactTransfers, FactAmount, FactFollowers:
		return true
	}
	return false
}

// Derivation raises a signal when a fact reaches a threshold.
type Derivation struct {
	Fact Fact
	// AtLeast is the threshold, inclusive: a count, followers, or fen for
	// FactAmount.
	AtLeast int64
}

// FactValues are the counted facts of one complaint.
type FactValues struct {
	RepeatContacts int
	Transfers      int
	Amount         Fen
	Followers      int64
}

// Of is the value of one fact.
func (v FactValues) Of(f Fact) int64 {
	switch f {
	case FactRepeatContacts:
		return int64(v.RepeatContacts)
	case FactTransfers:
		return int64(v.Transfers)
	case FactAmount:
		return int64(v.Amount)
	case FactFollowers:
		return v.Followers
	}
	return 0
}

// Holds reports whether the fact has reached the threshold.
func (d Derivation) Holds(v FactValues) bool { return v.Of(d.Fact) >= d.AtLeast }

// Flag is a fact about the complainant (journalist, official, celebrity,
// VIP), from the customer profile or recognised by keywords.
type Flag struct {
	ID       string
	Name     DisplayName
	Weight   int
	Severity Severity
	Keywords []string
}

// RiskCondition is the "when" of a severity rule. Every condition set must
// hold; unset conditions are ignored.
type RiskCondition struct {
	AnySignal             []string
	AnyFlag               []string
	AllFlags              []string
	Channels              []string
	PublicSignalsAtLeast  int
	ScoreAtLeast          int
	RepeatContactsAtLeast int
	TransfersAtLeast      int
}

// SeverityRule raises a complaint to Severity when its condition holds.
type SeverityRule struct {
	Name     string
	Severity Severity
	When     RiskCondition
}

// Risk holds the signals, flags and severity rules.
type Risk struct {
	Signals []Signal
	Flags   []Flag
	Rules   []SeverityRule
}

// Facts are what is known about a complaint when judging its severity.
type Facts struct {
	// Signals and Flags are ids (from the Matcher and the customer profile);
	// unknown ids are ignored.
	Signals []string
	Flags   []string
	Channel string
	// RepeatContacts counts contacts after the first (多次进线).
	RepeatContacts int
	// Transfers counts hand-overs between agents or queues (踢皮球).
	Transfers int
}

// Assessment is the judged severity and why.
type Assessment struct {
	Severity Severity
	// Score is the sum of the weights of the distinct signals and flags.
	Score int
	// PublicSignals counts distinct public signals, plus one for a public channel.
	PublicSignals int
	// Reasons lists what raised the severity, e.g. "signal threat_315: major"
	// or "rule two public signals and VIP: crisis".
	Reasons []string
}

// Assess judges a complaint's severity: the highest of normal, the floors of
// its signals and flags, and every severity rule whose condition holds.
func (p *Policy) Assess(f Facts) Assessment {
	a := Assessment{Severity: SeverityNormal}
	var sigs, flags []string
	for _, id := range f.Signals {
		s, ok := p.Signal(id)
		if !ok || slices.Contains(sigs, id) {
			continue
		}
		sigs = append(sigs, id)
		a.Score += s.Weight
		if s.Public {
			a.PublicSignals++
		}
		if s.Severity.Rank() > a.Severity.Rank() {
			a.Severity = s.Severity
		}
		if s.Severity.Rank() > SeverityNormal.Rank() {
			a.Reasons = append(a.Reasons, fmt.Sprintf("signal %s: %s", id, s.Severity))
		}
	}
	for _, id := range f.Flags {
		fl, ok := p.Flag(id)
		if !ok || slices.Contains(flags, id) {
			continue
		}
		flags = append(flags, id)
		a.Score += fl.Weight
		if fl.Severity.Rank() > a.Severity.Rank() {
			a.Severity = fl.Severity
		}
		if fl.Severity.Rank() > SeverityNormal.Rank() {
			a.Reasons = append(a.Reasons, fmt.Sprintf("flag %s: %s", id, fl.Severity))
		}
	}
	if ch, ok := p.Channel(f.Channel); ok && ch.Public {
		a.PublicSignals++
	}
	for _, r := range p.Risk.Rules {
		if r.When.holds(sigs, flags, f, a) {
			a.Severity = a.Severity.Max(r.Severity)
			a.Reasons = append(a.Reasons, fmt.Sprintf("rule %s: %s", r.Name, r.Severity))
		}
	}
	return a
}

func (c RiskCondition) holds(sigs, flags []string, f Facts, a Assessment) bool {
	if len(c.AnySignal) > 0 && !containsAny(sigs, c.AnySignal) {
		return false
	}
	if len(c.AnyFlag) > 0 && !containsAny(flags, c.AnyFlag) {
		return false
	}
	for _, want := range c.AllFlags {
		if !slices.Contains(flags, want) {
			return false
		}
	}
	if len(c.Channels) > 0 && !slices.Contains(c.Channels, f.Channel) {
		return false
	}
	return a.PublicSignals >= c.PublicSignalsAtLeast &&
		a.Score >= c.ScoreAtLeast &&
		f.RepeatContacts >= c.RepeatContactsAtLeast &&
		f.Transfers >= c.TransfersAtLeast
}

func containsAny(have, want []string) bool {
	for _, w := range want {
		if slices.Contains(have, w) {
			return true
		}
	}
	return false
}
