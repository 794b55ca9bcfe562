package policy

import (
	"slices"
	"testing"
	"time"
)

func TestAssessSeverity(t *testing.T) {
	p := shipped(t)
	cases := []struct {
		name  string
		facts Facts
		want  Severity
	}{
		{"nothing", Facts{Channel: "online_chat"}, SeverityNormal},
		{"unknown ids are ignored", Facts{Signals: []string{"nope"}, Flags: []string{"nope"}}, SeverityNormal},
		{"a public threat", Facts{Signals: []string{"threat_12315"}}, SeverityHigh},
		{"a non-public legal claim", Facts{Signals: []string{"refund_triple"}}, SeverityHigh},
		{"a 315 threat", Facts{Signals: []string{"threat_315"}}, SeverityMajor},
		{"a journalist", Facts{Flags: []string{"media"}}, SeverityMajor},
		{"an official", Facts{Flags: []string{"official"}}, SeverityMajor},
		{"a celebrity going public", Facts{Flags: []string{"celebrity"}, Signals: []string{"media_exposure"}}, SeverityCrisis},
		{"two public signals", Facts{Signals: []string{"threat_12315", "media_exposure"}}, SeverityMajor},
		{"a public channel counts", Facts{Channel: "weibo", Signals: []string{"regulator"}}, SeverityMajor},
		{"two public signals and VIP", Facts{Signals: []string{"threat_12315", "media_exposure"}, Flags: []string{"vip"}}, SeverityCrisis},
		{"VIP alone", Facts{Flags: []string{"vip"}}, SeverityNormal},
		{"repeat contacts", Facts{RepeatContacts: 2}, SeverityHigh},
		{"repeat contacts and public", Facts{RepeatContacts: 4, Channel: "heimao"}, SeverityCrisis},
		{"passed around", Facts{Transfers: 2}, SeverityHigh},
		{"score of many private signals", Facts{Signals: []string{"refund_triple", "lawsuit", "repeat_complaint", "passed_around"}}, SeverityMajor},
		{"duplicates count once", Facts{Signals: []string{"threat_12315", "threat_12315"}}, SeverityHigh},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := p.Assess(tc.facts)
			if a.Severity != tc.want {
				t.Errorf("severity = %s, want %s (score %d, public %d, reasons %v)", a.Severity, tc.want, a.Score, a.PublicSignals, a.Reasons)
			}
		})
	}
	a := p.Assess(Facts{Signals: []string{"threat_12315", "media_exposure"}, Flags: []string{"vip"}})
	if a.Score != 70 || a.PublicSignals != 2 || !slices.Contains(a.Reasons, "rule two public signals and VIP: crisis") {
		t.Errorf("assessment = %+v", a)
	}
}

func TestRoute(t *testing.T) {
	p := shipped(t)
	cases := []struct {
		name  string
		in    RouteInput
		queue string
		tier  int
		prio  int
	}{
		{"small quality refund stays with line 1", RouteInput{Category: "quality", Channel: "online_chat", Severity: SeverityNormal, Amount: yuan(t, "20")}, "after_sales_online", 1, 30},
		{"30 yuan is within line 1's cap", RouteInput{Category: "other", Channel: "online_chat", Amount: yuan(t, "30.00")}, "after_sales_online", 1, 30},
		{"30.01 needs line 2", RouteInput{Category: "quality", Channel: "online_chat", Amount: yuan(t, "30.01")}, "refund", 2, 50},
		{"above every tier goes to a supervisor", RouteInput{Category: "quality", Channel: "online_chat", Amount: yuan(t, "5000")}, "supervisor", 3, 65},
		{"crisis first", RouteInput{Category: "quality", Channel: "weibo", Severity: SeverityCrisis, VIP: true}, "pr", 3, 100},
		{"major to supervisor", RouteInput{Category: "counterfeit", Channel: "email", Severity: SeverityMajor}, "supervisor", 3, 90},
		{"marketplace arbitration", RouteInput{Category: "quality", Channel: "marketplace_arbitration"}, "platform", 2, 80},
		{"12315 ODR", RouteInput{Category: "quality", Channel: "odr_12315"}, "platform", 2, 80},
		{"a hot public post", RouteInput{Category: "quality", Channel: "heimao", Severity: SeverityHigh}, "pr", 3, 75},
		{"a public post", RouteInput{Category: "quality", Channel: "weibo"}, "negative_review", 2, 60},
		{"VIP", RouteInput{Category: "quality", Channel: "online_chat", VIP: true}, "vip", 2, 70},
		{"counterfeit", RouteInput{Category: "counterfeit", Channel: "online_chat"}, "after_sales_online", 2, 60},
		{"price difference", RouteInput{Category: "price_size_error", Channel: "online_chat", Amount: yuan(t, "12.5")}, "refund", 1, 40},
		{"logistics", RouteInput{Category: "logistics_wrong_item", Channel: "online_chat"}, "order", 1, 40},
		{"hotline", RouteInput{Category: "other", Channel: "hotline_400"}, "hotline_400", 1, 40},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Route(tc.in)
			if d.Queue != tc.queue || d.Tier != tc.tier || d.Priority != tc.prio {
				t.Errorf("Route = %+v, want queue %s tier %d priority %d", d, tc.queue, tc.tier, tc.prio)
			}
		})
	}
	if d := p.Route(RouteInput{Category: "other", Channel: "email"}); d.Rule != "default" {
		t.Errorf("unmatched complaint rule = %q, want default", d.Rule)
	}
}

func TestTiersAndCaps(t *testing.T) {
	p := shipped(t)
	if c, ok := p.RefundCap(1); !ok || c.Amount != 3000 || c.Unlimited {
		t.Errorf("tier 1 cap = %v, want 30.00 yuan (seed 004)", c)
	}
	if !p.SupervisorRefundCap.Unlimited {
		t.Errorf("supervisor cap = %v, want unlimited", p.SupervisorRefundCap)
	}
	for amount, want := range map[string]int{"0": 1, "30": 1, "30.01": 2, "200": 2, "1000.00": 3} {
		if got, ok := p.TierNeeded(yuan(t, amount)); !ok || got != want {
			t.Errorf("TierNeeded(%s) = %d, %v; want %d", amount, got, ok, want)
		}
	}
	if _, ok := p.TierNeeded(yuan(t, "1000.01")); ok {
		t.Error("TierNeeded(1000.01) found a tier; only a supervisor may approve it")
	}
	if _, ok := p.RefundCap(4); ok {
		t.Error("RefundCap(4) exists")
	}
}

func TestClockFor(t *testing.T) {
	p := shipped(t)
	type want struct {
		target, limit, warn string
	}
	cases := []struct {
		name  string
		clock Clock
		ctx   SLAContext
		want  want
	}{
		{"chat answers in 30 s", ClockFirstResponse, SLAContext{Channel: "online_chat", Severity: SeverityNormal, Phase: PhasePreparation}, want{"30s", "2h", "50%"}},
		{"e-mail keeps the 24 h hard limit", ClockFirstResponse, SLAContext{Channel: "email", Severity: SeverityNormal, Phase: PhaseOffSeason}, want{"8h", "24h", "75%"}},
		{"war room tightens e-mail", ClockFirstResponse, SLAContext{Channel: "email", Severity: SeverityNormal, Phase: PhaseBattle}, want{"1h", "12h", "50%"}},
		{"war room never loosens chat", ClockFirstResponse, SLAContext{Channel: "online_chat", Severity: SeverityNormal, Phase: PhaseBattle}, want{"30s", "2h", "50%"}},
		{"major complaints", ClockFirstResponse, SLAContext{Channel: "email", Severity: SeverityMajor, Phase: PhaseAftermath}, want{"15m", "1h", "50%"}},
		{"crisis", ClockFirstResponse, SLAContext{Channel: "weibo", Severity: SeverityCrisis}, want{"5m", "30m", "50%"}},
		{"72-hour resolution", ClockResolution, SLAContext{Channel: "online_chat", Category: "quality", Severity: SeverityNormal}, want{"48h", "72h", "80%"}},
		{"battle resolution", ClockResolution, SLAContext{Channel: "online_chat", Category: "quality", Severity: SeverityNormal, Phase: PhaseBattle}, want{"24h", "48h", "80%"}},
		{"expired food resolves faster", ClockResolution, SLAContext{Channel: "online_chat", Category: "expired_goods", Severity: SeverityNormal}, want{"48h", "48h", "80%"}},
		{"ODR in working days", ClockODR, SLAContext{Channel: "odr_12315", Severity: SeverityNormal}, want{"5wd", "10wd", "2wd"}},
		{"ODR in the war room", ClockODR, SLAContext{Channel: "odr_12315", Severity: SeverityNormal, Phase: PhaseBattle}, want{"3wd", "10wd", "2wd"}},
		{"major ODR", ClockODR, SLAContext{Channel: "odr_12315", Severity: SeverityMajor}, want{"5wd", "5wd", "1wd"}},
		{"promise default", ClockPromise, SLAContext{Channel: "online_chat"}, want{"", "1h", "80%"}},
		{"follow-up", ClockFollowUp, SLAContext{Channel: "email", Severity: SeverityNormal}, want{"24h", "72h", "80%"}},
		{"follow-up in the aftermath", ClockFollowUp, SLAContext{Channel: "email", Severity: SeverityNormal, Phase: PhaseAftermath}, want{"24h", "48h", "80%"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := p.ClockFor(tc.clock, tc.ctx)
			if !ok {
				t.Fatal("clock does not run")
			}
			target := ""
			if !c.Target.IsZero() {
				target = c.Target.String()
			}
			got := want{target, c.Limit.String(), c.Warn.String()}
			if got != tc.want {
				t.Errorf("ClockFor = %+v, want %+v", got, tc.want)
			}
		})
	}
	if _, ok := p.ClockFor(ClockODR, SLAContext{Channel: "online_chat"}); ok {
		t.Error("the ODR clock runs for an online chat complaint")
	}
	if _, ok := p.ClockFor("lunch", SLAContext{}); ok {
		t.Error("an unknown clock runs")
	}
}

func TestDeadlines(t *testing.T) {
	p := shipped(t)
	chat, _ := p.ClockFor(ClockFirstResponse, SLAContext{Channel: "online_chat", Severity: SeverityNormal, Phase: PhaseBattle})
	d, err := p.Deadlines("demo-flagship", chat, at(t, "2026-03-11 10:00:00"))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Target.Equal(at(t, "2026-03-11 10:00:30")) || !d.Warn.Equal(at(t, "2026-03-11 11:00:00")) || !d.Breach.Equal(at(t, "2026-03-11 12:00:00")) {
		t.Errorf("chat deadlines = %+v", d)
	}

	// A 12315 ODR case filed the Friday before Spring Festival 2026: the ten
	// working days skip the nine-day holiday and count both make-up Saturdays.
	odr, _ := p.ClockFor(ClockODR, SLAContext{Channel: "odr_12315", Severity: SeverityNormal})
	d, err = p.Deadlines("demo-flagship", odr, at(t, "2026-02-13 15:00:00"))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Breach.Equal(at(t, "2026-03-05 15:00:00")) || !d.Warn.Equal(at(t, "2026-03-03 15:00:00")) || !d.Target.Equal(at(t, "2026-02-27 15:00:00")) {
		t.Errorf("ODR deadlines = target %s warn %s breach %s", d.Target, d.Warn, d.Breach)
	}

	promise, _ := p.ClockFor(ClockPromise, SLAContext{Channel: "online_chat"})
	d, _ = p.Deadlines("demo-flagship", promise, at(t, "2026-03-11 10:00:00"))
	if !d.Target.IsZero() || !d.Breach.Equal(at(t, "2026-03-11 11:00:00")) || !d.Warn.Equal(at(t, "2026-03-11 10:48:00")) {
		t.Errorf("promise deadlines = %+v", d)
	}

	if _, err := p.Deadlines("demo-flagship", odr, at(t, "2027-12-24 10:00:00")); err == nil {
		t.Error("an ODR clock into 2028 got a deadline without a 2028 calendar")
	}
	got, err := p.Deadline("demo-flagship", at(t, "2026-09-30 10:00:00"), Span{WorkingDays: 10})
	if err != nil || !got.Equal(at(t, "2026-10-20 10:00:00")) {
		t.Errorf("Deadline over National Day = %s, %v", got, err)
	}
}

func TestEscalate(t *testing.T) {
	p := shipped(t)
	cases := []struct {
		name    string
		current string
		facts   EscalationFacts
		to      string // "" for no escalation
		alert   bool
	}{
		{"first response breach", "agent", EscalationFacts{Event: TriggerBreach, Clock: ClockFirstResponse}, "supervisor", false},
		{"unassigned level counts as the front line", "", EscalationFacts{Event: TriggerBreach, Clock: ClockResolution}, "supervisor", false},
		{"a second breach climbs again", "supervisor", EscalationFacts{Event: TriggerBreach, Clock: ClockResolution}, "platform", false},
		{"ODR breach goes to the platform", "agent", EscalationFacts{Event: TriggerBreach, Clock: ClockODR}, "platform", true},
		{"major on arrival", "agent", EscalationFacts{Event: TriggerSeverity, Severity: SeverityMajor}, "supervisor", true},
		{"crisis on arrival", "agent", EscalationFacts{Event: TriggerSeverity, Severity: SeverityCrisis}, "pr", true},
		{"high is handled in line", "agent", EscalationFacts{Event: TriggerSeverity, Severity: SeverityHigh}, "", false},
		{"315 threat", "agent", EscalationFacts{Event: TriggerSignal, Signals: []string{"threat_315"}}, "supervisor", true},
		{"a lawsuit threat alone", "agent", EscalationFacts{Event: TriggerSignal, Signals: []string{"lawsuit"}}, "", false},
		{"two repeat contacts", "agent", EscalationFacts{Event: TriggerRepeatContacts, Count: 2}, "", false},
		{"three repeat contacts", "agent", EscalationFacts{Event: TriggerRepeatContacts, Count: 3}, "supervisor", false},
		{"passed around twice", "agent", EscalationFacts{Event: TriggerTransfers, Count: 2}, "supervisor", false},
		{"broken promise", "agent", EscalationFacts{Event: TriggerPromiseBroken}, "supervisor", false},
		{"broken promise already with a supervisor", "supervisor", EscalationFacts{Event: TriggerPromiseBroken}, "", false},
		{"dissatisfied follow-up", "agent", EscalationFacts{Event: TriggerDissatisfiedFollowUp}, "supervisor", false},
		{"nothing above the top", "pr", EscalationFacts{Event: TriggerBreach, Clock: ClockResolution}, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			step, ok := p.Escalate(tc.current, tc.facts)
			if tc.to == "" {
				if ok {
					t.Errorf("escalated to %s, want no escalation", step.To.ID)
				}
				return
			}
			if !ok || step.To.ID != tc.to || step.Alert != tc.alert {
				t.Errorf("Escalate = %+v, %v; want %s alert=%v", step, ok, tc.to, tc.alert)
			}
		})
	}
	if lv, ok := p.Level("pr"); !ok || lv.Queue != "pr" || !lv.Alert {
		t.Errorf("level pr = %+v", lv)
	}
}

func TestFollowUpRules(t *testing.T) {
	f := shipped(t).FollowUp
	if f.DelayFor(SeverityNormal) != 24*time.Hour || f.DelayFor(SeverityHigh) != 24*time.Hour {
		t.Error("ordinary complaints are followed up 24 h after resolution")
	}
	if f.DelayFor(SeverityMajor) != 0 || f.DelayFor(SeverityCrisis) != 0 {
		t.Error("major complaints are followed up at once")
	}
	for attempt, want := range map[int]time.Duration{1: 4 * time.Hour, 2: 24 * time.Hour} {
		if got, ok := f.RetryDelay(attempt); !ok || got != want {
			t.Errorf("RetryDelay(%d) = %s, %v; want %s", attempt, got, ok, want)
		}
	}
	if _, ok := f.RetryDelay(3); ok {
		t.Error("a fourth attempt is scheduled past max_attempts 3")
	}
	s := f.Satisfaction
	if !s.Satisfied(4) || s.Satisfied(3) || !s.Dissatisfied(2) || s.Dissatisfied(3) || s.Satisfied(6) {
		t.Error("satisfaction thresholds")
	}
	if f.ReopenWindow != 7*24*time.Hour || f.Queue != "followup" || !f.ReopenOnDissatisfied {
		t.Errorf("follow-up = %+v", f)
	}
}
