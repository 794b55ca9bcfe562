package policy

// The raw types mirror the YAML file. Everything with a unit (money, dates,
// spans, severities) is kept as text so that validation, not decoding,
// reports a bad value together with its key path and every other problem.

type rawName struct {
	ZhCN string `yaml:"zh-CN"`
	En   string `yaml:"en"`
}

type rawPolicy struct {
	Version             int                       `yaml:"version"`
	Shops               []rawShop                 `yaml:"shops"`
	Seasons             map[string]rawSeason      `yaml:"seasons"`
	Channels            []rawChannel              `yaml:"channels"`
	Categories          []rawCategory             `yaml:"categories"`
	DefaultCategory     string                    `yaml:"default_category"`
	Risk                rawRisk                   `yaml:"risk"`
	Queues              []rawQueue                `yaml:"queues"`
	Routing             rawRouting                `yaml:"routing"`
	Tiers               []rawTier                 `yaml:"tiers"`
	SupervisorRefundCap string                    `yaml:"supervisor_refund_cap"`
	SLA                 rawSLA                    `yaml:"sla"`
	Escalation          rawEscalation             `yaml:"escalation"`
	FollowUp            rawFollowUp               `yaml:"followup"`
	Disputes            rawDisputes               `yaml:"disputes"`
	Holidays            map[string]rawHolidayYear `yaml:"holidays"`
	CustomerTypes       rawCustomerTypes          `yaml:"customer_types"`
	Roster              rawRoster                 `yaml:"roster"`
}

type rawShop struct {
	ID       string               `yaml:"id"`
	Name     rawName              `yaml:"name"`
	TimeZone string               `yaml:"time_zone"`
	Seasons  map[string]rawSeason `yaml:"seasons"`
}

type rawSeason struct {
	Name   rawName    `yaml:"name"`
	Start  string     `yaml:"start"`
	End    string     `yaml:"end"`
	Phases []rawPhase `yaml:"phases"`
}

type rawPhase struct {
	Phase string `yaml:"phase"`
	Start string `yaml:"start"`
	End   string `yaml:"end"`
}

type rawChannel struct {
	ID             string   `yaml:"id"`
	Name           rawName  `yaml:"name"`
	Public         bool     `yaml:"public"`
	Fields         []string `yaml:"fields"`
	RequiredFields []string `yaml:"required_fields"`
}

type rawCategory struct {
	ID       string   `yaml:"id"`
	Name     rawName  `yaml:"name"`
	Keywords []string `yaml:"keywords"`
}

type rawRisk struct {
	Signals       []rawSignal       `yaml:"signals"`
	Flags         []rawSignal       `yaml:"complainant_flags"`
	SeverityRules []rawSeverityRule `yaml:"severity_rules"`
}

type rawSignal struct {
	ID       string         `yaml:"id"`
	Name     rawName        `yaml:"name"`
	Public   bool           `yaml:"public"`
	Weight   int            `yaml:"weight"`
	Severity string         `yaml:"severity"`
	Keywords []string       `yaml:"keywords"`
	From     *rawDerivation `yaml:"from"`
}

type rawDerivation struct {
	Fact      string `yaml:"fact"`
	AtLeast   int64  `yaml:"at_least"`
	MinAmount string `yaml:"min_amount"`
}

type rawCustomerTypes struct {
	Default string           `yaml:"default"`
	Cues    []rawCustomerCue `yaml:"cues"`
}

type rawCustomerCue struct {
	Type                  string   `yaml:"type"`
	Keywords              []string `yaml:"keywords"`
	Signals               []string `yaml:"signals"`
	RepeatContactsAtLeast int      `yaml:"repeat_contacts_at_least"`
}

type rawSeverityRule struct {
	Name     string           `yaml:"name"`
	Severity string           `yaml:"severity"`
	When     rawRiskCondition `yaml:"when"`
}

type rawRiskCondition struct {
	AnySignal             []string `yaml:"any_signal"`
	AnyFlag               []string `yaml:"any_flag"`
	AllFlags              []string `yaml:"all_flags"`
	Channels              []string `yaml:"channels"`
	PublicSignalsAtLeast  int      `yaml:"public_signals_at_least"`
	ScoreAtLeast          int      `yaml:"score_at_least"`
	RepeatContactsAtLeast int      `yaml:"repeat_contacts_at_least"`
	TransfersAtLeast      int      `yaml:"transfers_at_least"`
}

type rawQueue struct {
	ID          string  `yaml:"id"`
	Name        rawName `yaml:"name"`
	MinTier     int     `yaml:"min_tier"`
	MaxPerAgent int     `yaml:"max_per_agent"`
}

type rawRouting struct {
	DefaultQueue    string         `yaml:"default_queue"`
	DefaultPriority int            `yaml:"default_priority"`
	Rules           []rawRouteRule `yaml:"rules"`
}

type rawRouteRule struct {
	Name     string        `yaml:"name"`
	Match    rawRouteMatch `yaml:"match"`
	Queue    string        `yaml:"queue"`
	Priority int           `yaml:"priority"`
	Tier     int           `yaml:"tier"`
}

type rawRouteMatch struct {
	Categories    []string `yaml:"categories"`
	Channels      []string `yaml:"channels"`
	MinSeverity   string   `yaml:"min_severity"`
	VIP           *bool    `yaml:"vip"`
	MinAmount     string   `yaml:"min_amount"`
	MaxAmount     string   `yaml:"max_amount"`
	MinTierNeeded int      `yaml:"min_tier_needed"`
}

type rawTier struct {
	Tier      int     `yaml:"tier"`
	Name      rawName `yaml:"name"`
	RefundCap string  `yaml:"refund_cap"`
}

type rawClock struct {
	Target   string   `yaml:"target"`
	Limit    string   `yaml:"limit"`
	Warn     string   `yaml:"warn"`
	Channels []string `yaml:"channels"`
}

type rawSLA struct {
	Clocks    map[string]rawClock            `yaml:"clocks"`
	Channels  map[string]map[string]rawClock `yaml:"channels"`
	Overrides []rawSLAOverride               `yaml:"overrides"`
}

type rawSLAOverride struct {
	Name   string              `yaml:"name"`
	When   rawSLAWhen          `yaml:"when"`
	Clocks map[string]rawClock `yaml:"clocks"`
}

type rawSLAWhen struct {
	Channels    []string `yaml:"channels"`
	Categories  []string `yaml:"categories"`
	MinSeverity string   `yaml:"min_severity"`
	Phases      []string `yaml:"phases"`
}

type rawEscalation struct {
	Levels   []rawLevel   `yaml:"levels"`
	Triggers []rawTrigger `yaml:"triggers"`
}

type rawLevel struct {
	ID    string  `yaml:"id"`
	Name  rawName `yaml:"name"`
	Queue string  `yaml:"queue"`
	Alert bool    `yaml:"alert"`
}

type rawTrigger struct {
	Event       string   `yaml:"event"`
	Clocks      []string `yaml:"clocks"`
	MinSeverity string   `yaml:"min_severity"`
	Signals     []string `yaml:"signals"`
	AtLeast     int      `yaml:"at_least"`
	To          string   `yaml:"to"`
	Alert       bool     `yaml:"alert"`
}

type rawFollowUp struct {
	Delay                string          `yaml:"delay"`
	ImmediateMinSeverity string          `yaml:"immediate_min_severity"`
	RetryAfter           []string        `yaml:"retry_after"`
	MaxAttempts          int             `yaml:"max_attempts"`
	ReopenWindow         string          `yaml:"reopen_window"`
	ReopenOnDissatisfied bool            `yaml:"reopen_on_dissatisfied"`
	Satisfaction         rawSatisfaction `yaml:"satisfaction"`
	Queue                string          `yaml:"queue"`
	SweepAlertBefore     string          `yaml:"sweep_alert_before"`
}

type rawSatisfaction struct {
	Scale           int `yaml:"scale"`
	SatisfiedMin    int `yaml:"satisfied_min"`
	DissatisfiedMax int `yaml:"dissatisfied_max"`
}

type rawDisputes struct {
	FoldWindow string `yaml:"fold_window"`
}

type rawHolidayYear struct {
	Source      string             `yaml:"source"`
	Provisional bool               `yaml:"provisional"`
	Periods     []rawHolidayPeriod `yaml:"periods"`
}

type rawHolidayPeriod struct {
	Name           rawName  `yaml:"name"`
	Start          string   `yaml:"start"`
	End            string   `yaml:"end"`
	MakeupWorkdays []string `yaml:"makeup_workdays"`
}
