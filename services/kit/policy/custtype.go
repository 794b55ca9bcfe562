package policy

// CustomerType is the handling style a customer needs (seed 000). The
// classifier only hints it; an agent corrects it.
type CustomerType string

// The customer types.
const (
	// CustomerAggressive 激进型: harsh words, insults, temper, no patience.
	CustomerAggressive CustomerType = "aggressive"
	// CustomerHabitual 惯性型: often dissatisfied, complains again and again.
	CustomerHabitual CustomerType = "habitual"
	// CustomerQuiet 静俏型: calm, wary, rarely complains, keeps needs unsaid.
	CustomerQuiet CustomerType = "quiet"
)

// Valid reports whether t is a known customer type.
func (t CustomerType) Valid() bool {
	switch t {
	case CustomerAggressive, CustomerHabitual, CustomerQuiet:
		return true
	}
	return false
}

// DisplayName names the customer type for people.
func (t CustomerType) DisplayName() DisplayName {
	switch t {
	case CustomerAggressive:
		return DisplayName{ZhCN: "激进型", En: "Aggressive"}
	case CustomerHabitual:
		return DisplayName{ZhCN: "惯性型", En: "Habitual"}
	case CustomerQuiet:
		return DisplayName{ZhCN: "静俏型", En: "Quiet"}
	}
	return DisplayName{ZhCN: "未指定", En: "Unspecified"}
}

// CustomerTypeCues are what points to one customer type. Each distinct
// keyword found, each listed signal raised and the repeat-contact count
// reached is one cue.
type CustomerTypeCues struct {
	Type     CustomerType
	Keywords []string
	// Signals are risk signal ids that count as a cue (a threat is a sign of
	// an aggressive customer whatever words carry it).
	Signals []string
	// RepeatContactsAtLeast, when > 0, counts as a cue once the complaint has
	// this many contacts after the first.
	RepeatContactsAtLeast int
}

// CustomerTypes holds the cues of the customer-type hint. The hint is the
// type with most cues, the first listed on a tie, and Default when no type
// has any. The zero value (no customer_types section) hints nothing.
type CustomerTypes struct {
	Default CustomerType
	Cues    []CustomerTypeCues
}
