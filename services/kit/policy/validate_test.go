package policy

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mutate replaces exactly one occurrence of old in base, so a test never
// silently edits nothing when the base file changes.
func mutate(t *testing.T, base, old, new string) string {
	t.Helper()
	if n := strings.Count(base, old); n != 1 {
		t.Fatalf("base file holds %q %d times, want once", old, n)
	}
	return strings.Replace(base, old, new, 1)
}

func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		t.Fatal("Parse succeeded, want a validation error")
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v is not ErrInvalid", err)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T is not a *ValidationError", err)
	}
	out := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		out[i] = p.String()
	}
	return out
}

func TestMinimalPolicyIsValid(t *testing.T) {
	if _, err := Parse([]byte(readFile(t, "testdata/minimal.yaml"))); err != nil {
		t.Fatalf("testdata/minimal.yaml: %v", err)
	}
}

// TestValidationNamesKeyAndValue changes one thing at a time in a valid
// policy and expects the exact problem an operator would read.
func TestValidationNamesKeyAndValue(t *testing.T) {
	base := readFile(t, "testdata/minimal.yaml")
	cases := []struct {
		name     string
		old, new string
		want     string
	}{
		// document and decoding
		{"version missing", "version: 1\n", "", "version: must be set (this Kesu reads version 1)"},
		{"version unsupported", "version: 1\n", "version: 2\n", "version: 2: unsupported (this Kesu reads version 1)"},
		{"unknown key", `refund_cap: "30"}`, `refund_cap: "30", refund_capp: "1"}`, "tiers[0].refund_capp: unknown key"},
		{"unknown top-level key", "default_category: other\n", "default_category: other\ndefault_queue: general\n", "default_queue: unknown key"},
		{"wrong type", "min_tier: 1, max_per_agent: 5}", "min_tier: 1, max_per_agent: five}", `queues[0].max_per_agent: "five": must be a whole number`},
		{"list expected", "retry_after: [4h]", "retry_after: 4h", `followup.retry_after: "4h": must be a list`},
		{"bool expected", "public: true\n  - id: odr_12315", "public: maybe\n  - id: odr_12315", `channels[1].public: "maybe": must be true or false`},
		// shops
		{"shop id duplicate", "  - id: la\n", "  - id: sh\n", `shops[1].id: "sh": duplicate (first at shops[0].id)`},
		{"shop id malformed", "  - id: sh\n", "  - id: Sh!\n", `shops[0].id: "Sh!": must be lower-case letters, digits, '-' or '_' (at most 64)`},
		{"shop time zone", "America/Los_Angeles", "America/Los_Angelos", `shops[1].time_zone: "America/Los_Angelos": unknown time zone: want an IANA name like Asia/Shanghai`},
		{"display name missing", "{zh-CN: 上海店, en: Shanghai shop}", "{zh-CN: 上海店}", "shops[0].name.en: must be set"},
		// seasons
		{"phase gap", "{phase: battle, start: 2026-03-11", "{phase: battle, start: 2026-03-12", "seasons.2026.phases[1].start: 2026-03-12: must follow preparation end 2026-03-10 directly"},
		{"phase overlap", "{phase: battle, start: 2026-03-11", "{phase: battle, start: 2026-03-10", "seasons.2026.phases[1].start: 2026-03-10: must follow preparation end 2026-03-10 directly"},
		{"first phase start", "{phase: preparation, start: 2026-02-25", "{phase: preparation, start: 2026-02-26", "seasons.2026.phases[0].start: 2026-02-26: must equal the season start 2026-02-25"},
		{"last phase end", "start: 2026-03-21, end: 2026-04-10}", "start: 2026-03-21, end: 2026-04-09}", "seasons.2026.phases[2].end: 2026-04-09: must equal the season end 2026-04-10"},
		{"phase order", "{phase: preparation,", "{phase: battle,", `seasons.2026.phases[1].phase: "battle": must come after battle (phases run preparation, battle, aftermath, each at most once)`},
		{"phase unknown", "{phase: aftermath,", "{phase: cleanup,", `seasons.2026.phases[2].phase: "cleanup": unknown phase (known: preparation, battle, aftermath)`},
		{"phase end before start", "{phase: battle, start: 2026-03-11, end: 2026-03-20}", "{phase: battle, start: 2026-03-11, end: 2026-03-01}", "seasons.2026.phases[1].end: 2026-03-01: must not be before start 2026-03-11"},
		{"season date invalid", "end: 2026-04-10\n    phases", "end: 2026-04-31\n    phases", `seasons.2026.end: "2026-04-31": not a date: want YYYY-MM-DD`},
		{"season outside its year", "start: 2026-02-25\n    end", "start: 2025-02-25\n    end", "seasons.2026.start: 2025-02-25: must be in 2026"},
		{"season key not a year", "  2026:\n    name: {zh-CN: 2026 季", "  twenty:\n    name: {zh-CN: 2026 季", "seasons.twenty: key must be a year like 2026"},
		{"season without holiday calendar", "seasons:\n", "seasons:\n  2028:\n    name: {zh-CN: a, en: b}\n    start: 2028-03-11\n    end: 2028-03-20\n    phases:\n      - {phase: battle, start: 2028-03-11, end: 2028-03-20}\n",
			"seasons.2028: no holiday calendar for 2028 (add holidays.2028): working-day clocks would fail in this season"},
		// channels and categories
		{"required field not kept", "required_fields: [buyer_nick]", "required_fields: [buyer_name]", `channels[0].required_fields[0]: "buyer_name": not in fields`},
		{"channel id malformed", "  - id: weibo\n", "  - id: Weibo\n", `channels[1].id: "Weibo": must be a lower-case identifier: a letter, then letters, digits or '_' (at most 64)`},
		{"keywords missing", "keywords: [咨询]", "keywords: []", "categories[1].keywords: must list at least one keyword"},
		{"keyword repeated", "keywords: [质量, 質量]", "keywords: [质量, 質量, 质量]", `categories[0].keywords[2]: "质量": duplicate of categories[0].keywords[0]`},
		{"keyword empty after normalisation", "keywords: [咨询]", "keywords: [咨询, \"\\u200b\"]", `categories[1].keywords[1]: "\u200b": empty after normalisation`},
		{"default category unknown", "default_category: other", "default_category: misc", `default_category: "misc": unknown category (known: other, quality)`},
		// risk
		{"signal weight negative", "weight: 40", "weight: -5", "risk.signals[0].weight: -5: must be ≥ 0"},
		{"signal severity unknown", "severity: major\n", "severity: huge\n", `risk.signals[0].severity: "huge": unknown severity (known: normal, high, major, crisis)`},
		{"signal without keywords", `keywords: ["315"]`, "keywords: []", "risk.signals[0].keywords: must list at least one keyword"},
		{"flag cannot be public", "      weight: 10\n", "      weight: 10\n      public: true\n", "risk.complainant_flags[0].public: true: only risk signals can be public"},
		{"rule names unknown signal", "when: {public_signals_at_least: 1}", "when: {any_signal: [threat_316]}", `risk.severity_rules[0].when.any_signal[0]: "threat_316": unknown signal (known: threat_315)`},
		{"rule names unknown flag", "when: {public_signals_at_least: 1}", "when: {all_flags: [vvip]}", `risk.severity_rules[0].when.all_flags[0]: "vvip": unknown complainant flag (known: vip)`},
		{"rule without condition", "when: {public_signals_at_least: 1}", "when: {}", "risk.severity_rules[0].when: must set at least one condition"},
		{"rule lowers nothing", "severity: high\n      when", "severity: normal\n      when", `risk.severity_rules[0].severity: "normal": must be high, major or crisis (a rule only raises severity)`},
		// tiers and caps
		{"refund cap negative", `refund_cap: "30"`, `refund_cap: "-5"`, `tiers[0].refund_cap: "-5": must be ≥ 0`},
		{"refund cap sub-fen", `refund_cap: "30"`, `refund_cap: "30.005"`, `tiers[0].refund_cap: "30.005": more than 2 decimal places: fen is the smallest unit`},
		{"refund cap not money", `refund_cap: "30"`, `refund_cap: "30 yuan"`, `tiers[0].refund_cap: "30 yuan": not a yuan amount: want digits with at most 2 decimals, like 30 or 30.00`},
		{"refund cap missing", `, refund_cap: "30"}`, "}", "tiers[0].refund_cap: must be set"},
		{"refund caps decrease", `refund_cap: "200.00"`, `refund_cap: "20"`, `tiers[1].refund_cap: "20": must be ≥ tier 1's cap 30.00`},
		{"tier numbering", "{tier: 2,", "{tier: 3,", "tiers[1].tier: 3: must be 2 (tiers are numbered 1, 2, 3… in order)"},
		{"supervisor cap below tiers", `supervisor_refund_cap: "5000"`, `supervisor_refund_cap: "100"`, `supervisor_refund_cap: "100": must be ≥ tier 2's cap 200.00`},
		{"supervisor cap missing", "supervisor_refund_cap: \"5000\"\n", "", `supervisor_refund_cap: must be set (an amount in yuan or "unlimited")`},
		// queues and routing
		{"queue tier unknown", "min_tier: 2, max_per_agent: 3", "min_tier: 3, max_per_agent: 3", "queues[1].min_tier: 3: no such tier (tiers 1–2)"},
		{"queue capacity", "min_tier: 1, max_per_agent: 5}", "min_tier: 1, max_per_agent: 0}", "queues[0].max_per_agent: 0: must be ≥ 1"},
		{"default queue unknown", "default_queue: general", "default_queue: generl", `routing.default_queue: "generl": unknown queue (known: followup, general, pr)`},
		{"rule queue unknown", "queue: pr\n", "queue: press\n", `routing.rules[0].queue: "press": unknown queue (known: followup, general, pr)`},
		{"rule category unknown", "{min_severity: crisis,", "{categories: [qualty], min_severity: crisis,", `routing.rules[0].match.categories[0]: "qualty": unknown category (known: other, quality)`},
		{"rule channel unknown", "{min_severity: crisis,", "{channels: [wechat], min_severity: crisis,", `routing.rules[0].match.channels[0]: "wechat": unknown channel (known: odr_12315, online_chat, weibo)`},
		{"rule severity unknown", "{min_severity: crisis,", "{min_severity: critical,", `routing.rules[0].match.min_severity: "critical": unknown severity (known: normal, high, major, crisis)`},
		{"amount range inverted", `min_amount: "0", max_amount: "100"`, `min_amount: "100", max_amount: "10"`, `routing.rules[0].match.max_amount: "10": must be ≥ min_amount 100.00`},
		{"amount negative", `min_amount: "0"`, `min_amount: "-1"`, `routing.rules[0].match.min_amount: "-1": must be ≥ 0`},
		{"priority range", "priority: 100", "priority: 101", "routing.rules[0].priority: 101: must be between 0 and 100"},
		{"rule tier unknown", "priority: 100\n", "priority: 100\n      tier: 5\n", "routing.rules[0].tier: 5: no such tier (tiers 1–2)"},
		// SLA
		{"clock missing", "    promise: {limit: 1h, warn: 80%}\n", "", "sla.clocks.promise: must be set"},
		{"clock unknown", "    promise: {limit: 1h, warn: 80%}\n", "    promise: {limit: 1h, warn: 80%}\n    first_reply: {limit: 1h, warn: 80%}\n", "sla.clocks.first_reply: unknown clock (known: first_response, next_response, resolution, odr, promise, followup)"},
		{"limit missing", "next_response: {limit: 12h, warn: 75%}", "next_response: {warn: 75%}", "sla.clocks.next_response.limit: must be set"},
		{"duration malformed", "resolution: {limit: 72h,", "resolution: {limit: 72hours,", `sla.clocks.resolution.limit: "72hours": not a duration: want e.g. "30s", "2h", "72h", "7d" or "10wd"`},
		{"duration not positive", "resolution: {limit: 72h,", "resolution: {limit: -72h,", `sla.clocks.resolution.limit: "-72h": must be > 0`},
		{"target above limit", "first_response: {target: 2h, limit: 24h", "first_response: {target: 25h, limit: 24h", `sla.clocks.first_response.target: "25h": must not exceed limit "24h"`},
		{"warn missing", "promise: {limit: 1h, warn: 80%}", "promise: {limit: 1h}", `sla.clocks.promise.warn: must be set (a percentage like "80%" or a span before the breach like "30m")`},
		{"warn fraction range", "first_response: {target: 2h, limit: 24h, warn: 75%}", "first_response: {target: 2h, limit: 24h, warn: 120%}", `sla.clocks.first_response.warn: "120%": must be between 0% and 100% (exclusive)`},
		{"warn not before breach", "odr: {limit: 10wd, warn: 2wd", "odr: {limit: 10wd, warn: 10wd", `sla.clocks.odr.warn: "10wd": must be shorter than the limit "10wd"`},
		{"clock channel unknown", "channels: [odr_12315]}", "channels: [odr]}", `sla.clocks.odr.channels[0]: "odr": unknown channel (known: odr_12315, online_chat, weibo)`},
		{"override changes unit", "resolution: {limit: 48h}", "resolution: {limit: 2wd}", `sla.overrides[0].clocks.resolution.limit: "2wd": must use the unit of sla.clocks.resolution.limit "72h"`},
		{"override sets channels", "resolution: {limit: 48h}", "resolution: {limit: 48h, channels: [weibo]}", "sla.overrides[0].clocks.resolution.channels: only allowed in sla.clocks"},
		{"override phase unknown", "phases: [battle]", "phases: [war]", `sla.overrides[0].when.phases[0]: "war": unknown phase (known: preparation, battle, aftermath, off_season)`},
		{"override without condition", "when: {phases: [battle]}", "when: {}", "sla.overrides[0].when: must set at least one condition (channels, categories, min_severity or phases)"},
		{"override clock unknown", "        resolution: {limit: 48h}", "        resolve: {limit: 48h}", "sla.overrides[0].clocks.resolve: unknown clock (known: first_response, next_response, resolution, odr, promise, followup)"},
		{"override sets nothing", "        resolution: {limit: 48h}", "        resolution: {}", "sla.overrides[0].clocks.resolution: must set target, limit or warn"},
		{"sla channel unknown", "  channels:\n    online_chat:\n", "  channels:\n    wechat:\n", "sla.channels.wechat: unknown channel (known: odr_12315, online_chat, weibo)"},
		// escalation
		{"trigger level unknown", "to: next}", "to: director}", `escalation.triggers[0].to: "director": unknown level (known: agent, supervisor)`},
		{"trigger event unknown", "event: breach,", "event: breached,", `escalation.triggers[0].event: "breached": unknown event (known: breach, severity, signal, repeat_contacts, transfers, promise_broken, dissatisfied_followup)`},
		{"trigger count on breach", "clocks: [resolution], to: next}", "clocks: [resolution], to: next, at_least: 3}", "escalation.triggers[0].at_least: 3: only used by repeat_contacts and transfers triggers"},
		{"trigger clock unknown", "clocks: [resolution], to: next}", "clocks: [resolve], to: next}", `escalation.triggers[0].clocks[0]: "resolve": unknown clock`},
		{"repeat trigger without count", "{event: breach, clocks: [resolution], to: next}", "{event: repeat_contacts, to: next}", "escalation.triggers[0].at_least: 0: must be ≥ 1"},
		{"severity trigger without severity", "{event: breach, clocks: [resolution], to: next}", "{event: severity, to: next}", "escalation.triggers[0].min_severity: must be set"},
		{"ladder too short", "    - {id: supervisor, name: {zh-CN: 主管, en: Supervisor}, queue: general}\n", "", "escalation.levels: must list at least two levels (the front line and one above it)"},
		{"level queue unknown", "queue: general}", "queue: floor}", `escalation.levels[1].queue: "floor": unknown queue (known: followup, general, pr)`},
		{"level id reserved", "{id: supervisor,", "{id: next,", `escalation.levels[1].id: "next": reserved: "next" means one level up in triggers`},
		// follow-up and disputes
		{"attempts", "max_attempts: 2", "max_attempts: 0", "followup.max_attempts: 0: must be ≥ 1"},
		{"retries needed", "retry_after: [4h]", "retry_after: []", "followup.retry_after: must list at least one wait when max_attempts > 1"},
		{"delay past follow-up limit", "delay: 24h", "delay: 80h", `followup.delay: "80h": must be shorter than sla.clocks.followup.limit "72h"`},
		{"delay in working days", "delay: 24h", "delay: 1wd", `followup.delay: "1wd": must be a duration like "24h" or "7d", not working days`},
		{"satisfaction bounds", "satisfied_min: 4", "satisfied_min: 2", "followup.satisfaction.satisfied_min: 2: must be above dissatisfied_max 2 and at most scale 5"},
		{"follow-up queue unknown", "  queue: followup\n", "  queue: callbacks\n", `followup.queue: "callbacks": unknown queue (known: followup, general, pr)`},
		{"fold window zero", "fold_window: 7d", "fold_window: 0s", `disputes.fold_window: "0s": must be > 0`},
		{"fold window missing", "disputes:\n  fold_window: 7d\n", "", "disputes.fold_window: must be set"},
		// holidays
		{"make-up day on a weekday", "makeup_workdays: [2026-02-14,", "makeup_workdays: [2026-02-16,", "holidays.2026.periods[0].makeup_workdays[0]: 2026-02-16: is a Monday; a make-up working day (调休) falls on a Saturday or Sunday"},
		{"make-up day inside the holiday", "makeup_workdays: [2026-02-14,", "makeup_workdays: [2026-02-15,", "holidays.2026.periods[0].makeup_workdays[0]: 2026-02-15: falls in the holiday 春节 2026-02-15..2026-02-23"},
		{"make-up day far away", "makeup_workdays: [2026-02-14,", "makeup_workdays: [2026-06-13,", "holidays.2026.periods[0].makeup_workdays[0]: 2026-06-13: is more than 31 days from the holiday 2026-02-15..2026-02-23"},
		{"holiday ends before it starts", "end: 2026-02-23,", "end: 2026-02-13,", "holidays.2026.periods[0].end: 2026-02-13: must not be before start 2026-02-15"},
		{"holiday too long", "end: 2026-02-23,", "end: 2026-03-15,", "holidays.2026.periods[0].end: 2026-03-15: makes a holiday of 29 days; at most 15"},
		{"holiday in another year", "start: 2026-02-15, end: 2026-02-23, makeup_workdays: [2026-02-14, 2026-02-28]", "start: 2027-02-15, end: 2027-02-23", "holidays.2026.periods[0].start: 2027-02-15: must be in 2026"},
		{"holidays overlap", "makeup_workdays: [2026-02-14, 2026-02-28]}\n", "makeup_workdays: [2026-02-14, 2026-02-28]}\n      - {name: {zh-CN: 重复, en: Dup}, start: 2026-02-20, end: 2026-02-21}\n",
			"holidays.2026.periods[1].start: 2026-02-20: overlaps 春节 2026-02-15..2026-02-23 (holidays.2026.periods[0])"},
		{"holiday year key", "holidays:\n  2026:", "holidays:\n  \"26\":", "holidays.26: key must be a year like 2026"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(mutate(t, base, tc.old, tc.new)))
			got := problemsOf(t, err)
			for _, g := range got {
				if g == tc.want {
					return
				}
			}
			t.Errorf("problem %q not reported; got:\n  %s", tc.want, strings.Join(got, "\n  "))
		})
	}
}

func TestValidationReportsEveryProblemAtOnce(t *testing.T) {
	src := readFile(t, "testdata/minimal.yaml")
	src = mutate(t, src, `refund_cap: "30"`, `refund_cap: "-5"`)
	src = mutate(t, src, "default_queue: general", "default_queue: nowhere")
	src = mutate(t, src, "{phase: battle, start: 2026-03-11", "{phase: battle, start: 2026-03-12")
	_, err := Parse([]byte(src))
	got := problemsOf(t, err)
	want := []string{
		"seasons.2026.phases[1].start: 2026-03-12: must follow preparation end 2026-03-10 directly",
		`tiers[0].refund_cap: "-5": must be ≥ 0`,
		`routing.default_queue: "nowhere": unknown queue (known: followup, general, pr)`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n  %s", len(got), len(want), strings.Join(got, "\n  "))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("problem %d = %q, want %q", i, got[i], want[i])
		}
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "policy: 3 problems:\n  ") {
		t.Errorf("Error() = %q, want it to start with the count", msg)
	}
}

func TestValidationProblemCarriesLine(t *testing.T) {
	src := mutate(t, readFile(t, "testdata/minimal.yaml"), `refund_cap: "30"`, `refund_cap: "-5"`)
	_, err := Parse([]byte(src))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 {
		t.Fatalf("want one problem, got %v", err)
	}
	lines := strings.Split(src, "\n")
	line := ve.Problems[0].Line
	if line < 1 || !strings.Contains(lines[line-1], `refund_cap: "-5"`) {
		t.Errorf("problem line %d does not hold the bad value", line)
	}
}

func TestDuplicateKeyIsNamed(t *testing.T) {
	src := mutate(t, readFile(t, "testdata/minimal.yaml"), "default_category: other\n", "default_category: other\ndefault_category: quality\n")
	_, err := Parse([]byte(src))
	got := problemsOf(t, err)
	if len(got) != 1 || !strings.HasPrefix(got[0], "default_category: duplicate key (first at line ") {
		t.Errorf("got %q, want a duplicate-key problem naming default_category", got)
	}
}

func TestParseRejectsNonPolicyDocuments(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"empty", "", "(document): empty: the policy file holds nothing"},
		{"comment only", "# nothing\n", "(document): empty: the policy file holds nothing"},
		{"a list", "- a\n- b\n", "(document): must be a mapping of policy sections"},
		{"broken YAML", "shops: [\n", "(document): not valid YAML: "},
		{"two documents", readFile(t, "testdata/minimal.yaml") + "---\nversion: 1\n", "(document): must hold exactly one YAML document (found a second after ---)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src))
			got := problemsOf(t, err)
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	if err == nil || !strings.Contains(err.Error(), "testdata/does-not-exist.yaml") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want an error naming it that wraps os.ErrNotExist", err)
	}
	path := t.TempDir() + "/bad.yaml"
	if err := os.WriteFile(path, []byte(mutate(t, readFile(t, "testdata/minimal.yaml"), "version: 1", "version: 3")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), "policy "+path+": 1 problem:") {
		t.Errorf("Load of an invalid file = %v, want it to name the file", err)
	}
}
