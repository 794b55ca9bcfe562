package domain

import (
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
)

// MergeClassification folds a new contact's classification into the
// complaint's current one: risk only accumulates (a threat made once stays on
// the record, the worst severity stands), the category stays unless it was
// "other", and a type an agent set stays. It reports whether anything changed,
// so a contact that adds nothing appends no ComplaintClassified.
func MergeClassification(prev, next *complaintv1.ComplaintClassified) (*complaintv1.ComplaintClassified, bool) {
	if prev == nil {
		return next, next != nil
	}
	if next == nil {
		return prev, false
	}
	m := proto.CloneOf(prev)
	if (m.GetCategory() == "" || m.GetCategory() == "other") && next.GetCategory() != "" && next.GetCategory() != "other" {
		m.Category = next.GetCategory()
	}
	for _, c := range next.GetSecondaryCategories() {
		if c != m.GetCategory() && !slices.Contains(m.GetSecondaryCategories(), c) {
			m.SecondaryCategories = append(m.SecondaryCategories, c)
		}
	}
	if next.GetSeverity() > m.GetSeverity() {
		m.Severity = next.GetSeverity()
	}
	if !m.GetManual() && m.GetCustomerType() == complaintv1.CustomerType_CUSTOMER_TYPE_UNSPECIFIED {
		m.CustomerType = next.GetCustomerType()
	}
	byCode := map[string]*complaintv1.RiskSignal{}
	for _, s := range m.GetRiskSignals() {
		byCode[s.GetCode()] = s
	}
	for _, s := range next.GetRiskSignals() {
		old, ok := byCode[s.GetCode()]
		if !ok {
			c := proto.CloneOf(s)
			m.RiskSignals = append(m.RiskSignals, c)
			byCode[s.GetCode()] = c
			continue
		}
		if s.GetWeight() > old.GetWeight() {
			old.Weight = s.GetWeight()
		}
		if s.GetEvidence() != "" && !strings.Contains(old.GetEvidence(), s.GetEvidence()) {
			old.Evidence = joinEvidence(old.GetEvidence(), s.GetEvidence())
		}
	}
	slices.SortStableFunc(m.RiskSignals, func(a, b *complaintv1.RiskSignal) int { return strings.Compare(a.GetCode(), b.GetCode()) })
	if next.GetRepeatContacts() > m.GetRepeatContacts() {
		m.RepeatContacts = next.GetRepeatContacts()
	}
	if next.GetRiskScore() > m.GetRiskScore() {
		m.RiskScore = next.GetRiskScore()
	}
	m.Phase = firstOf(m.GetPhase(), next.GetPhase())
	m.ClassifierVersion = next.GetClassifierVersion()
	changed := !proto.Equal(withoutExplanation(m), withoutExplanation(prev))
	if changed {
		m.Explanation = next.GetExplanation()
		m.Manual = false
	}
	return m, changed
}

func withoutExplanation(c *complaintv1.ComplaintClassified) *complaintv1.ComplaintClassified {
	x := proto.CloneOf(c)
	x.Explanation, x.ClassifierVersion = "", ""
	slices.SortStableFunc(x.RiskSignals, func(a, b *complaintv1.RiskSignal) int { return strings.Compare(a.GetCode(), b.GetCode()) })
	return x
}

// joinEvidence keeps evidence short: a signal repeated over ten contacts must
// not grow without bound.
func joinEvidence(a, b string) string {
	s := a + "; " + b
	if r := []rune(s); len(r) > 200 {
		return string(r[:200]) + "…"
	}
	return s
}
