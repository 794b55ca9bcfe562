package policy

import (
	"slices"
	"testing"
)

// TestShippedPolicy checks that deploy/config/kesu.yaml loads cleanly and
// carries what the services rely on by id.
func TestShippedPolicy(t *testing.T) {
	p := shipped(t)
	ids := func(n int, id func(int) string) []string {
		out := make([]string, n)
		for i := range n {
			out[i] = id(i)
		}
		return out
	}
	want := map[string]struct {
		have []string
		need []string
	}{
		"channels": {ids(len(p.Channels), func(i int) string { return p.Channels[i].ID }),
			[]string{"online_chat", "hotline_400", "email", "marketplace_arbitration", "odr_12315", "consumer_association", "weibo", "heimao", "in_store", "other"}},
		"categories": {ids(len(p.Categories), func(i int) string { return p.Categories[i].ID }),
			[]string{"quality", "expired_goods", "price_size_error", "promotion_rules", "false_advertising", "counterfeit", "logistics_wrong_item", "after_sales_refusal", "service_attitude", "privacy", "other"}},
		"signals": {ids(len(p.Risk.Signals), func(i int) string { return p.Risk.Signals[i].ID }),
			[]string{"threat_315", "threat_12315", "consumer_association", "media_exposure", "lawsuit", "regulator", "refund_triple", "refund_tenfold"}},
		"flags": {ids(len(p.Risk.Flags), func(i int) string { return p.Risk.Flags[i].ID }),
			[]string{"media", "official", "celebrity", "vip"}},
		"queues": {ids(len(p.Queues), func(i int) string { return p.Queues[i].ID }),
			[]string{"pre_sales", "after_sales_online", "hotline_400", "negative_review", "order", "refund", "vip", "pr", "supervisor", "platform", "followup"}},
		"levels": {ids(len(p.Escalation.Levels), func(i int) string { return p.Escalation.Levels[i].ID }),
			[]string{"agent", "supervisor", "platform", "pr"}},
		"shops": {ids(len(p.Shops), func(i int) string { return p.Shops[i].ID }), []string{"demo-flagship"}},
	}
	for what, w := range want {
		for _, id := range w.need {
			if !slices.Contains(w.have, id) {
				t.Errorf("%s lacks %q", what, id)
			}
		}
	}
	if p.Escalation.Levels[0].ID != "agent" || p.Escalation.Levels[3].ID != "pr" {
		t.Error("the ladder runs agent -> supervisor -> platform -> pr")
	}
	keywords := map[string][]string{
		"quality":         {"质量", "質量", "品質"},
		"expired_goods":   {"过期", "過期", "变质", "變質"},
		"counterfeit":     {"假货", "假貨", "正品"},
		"promotion_rules": {"满500减50", "滿500減50"},
	}
	for cat, kws := range keywords {
		c, _ := p.Category(cat)
		for _, kw := range kws {
			if !slices.Contains(c.Keywords, kw) {
				t.Errorf("category %s lacks keyword %q", cat, kw)
			}
		}
	}
	sh, _ := p.Shop("demo-flagship")
	if sh.TimeZone != "Asia/Shanghai" || sh.Location == nil {
		t.Errorf("demo-flagship zone = %q", sh.TimeZone)
	}
	for _, y := range []int{2025, 2026, 2027} {
		if _, ok := p.Seasons[y]; !ok || !p.Calendar.Covers(y) {
			t.Errorf("year %d: season or holiday calendar missing", y)
		}
	}
	if p.Disputes.FoldWindow.Hours() != 168 || p.DefaultCategory != "other" {
		t.Errorf("disputes %v, default category %q", p.Disputes, p.DefaultCategory)
	}
}

// TestShippedPolicyPhaseError is the operator's view of a typo in the shipped
// file: the exact message for a gap between two phases.
func TestShippedPolicyPhaseError(t *testing.T) {
	src := mutate(t, readFile(t, shippedPath), "{phase: battle,      start: 2027-03-11", "{phase: battle,      start: 2027-03-12")
	_, err := Parse([]byte(src))
	got := problemsOf(t, err)
	want := "seasons.2027.phases[1].start: 2027-03-12: must follow preparation end 2027-03-10 directly"
	if len(got) != 1 || got[0] != want {
		t.Errorf("problems = %q, want [%q]", got, want)
	}
}
