package policy

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

func TestMatcherSimplifiedAndTraditional(t *testing.T) {
	m := shipped(t).Matcher()
	cases := []struct {
		name     string
		text     string
		category string // "" when none should match
		signals  []string
		flags    []string
	}{
		{"simplified quality", "质量太差了，用了两天就坏了", "quality", nil, nil},
		{"traditional quality with 12315", "質量太差了，用了兩天就壞了，我要打12315投訴", "quality", []string{"threat_12315"}, nil},
		{"seed 004 threat, simplified", "再接进客服，就说之前的客服说错了，实在不行我只能315了，呵呵了。", "", []string{"threat_315"}, nil},
		{"seed 004 threat, traditional", "實在不行我只能315了", "", []string{"threat_315"}, nil},
		{"full-width digits", "实在不行我只能３１５了", "", []string{"threat_315"}, nil},
		{"3·15 with a katakana dot", "我要在3・15那天去央視曝光", "", []string{"threat_315", "media_exposure"}, nil},
		{"315 inside an order number", "订单号2026031500123一直不发货", "logistics_wrong_item", nil, nil},
		{"12315 is not a 315 threat", "我已经投诉到12315了", "", []string{"threat_12315"}, nil},
		{"journalist on Weibo, traditional", "我是記者，要在微博曝光你們", "", []string{"media_exposure"}, []string{"media"}},
		{"expired milk, tenfold claim", "买的牛奶過期了还变质，要求退一賠十", "expired_goods", []string{"refund_tenfold"}, nil},
		{"promotion, simplified", "满500减50的活动没有生效", "promotion_rules", nil, nil},
		{"promotion, traditional", "滿500減50的活動沒有生效", "promotion_rules", nil, nil},
		{"a different promotion is not 满500减50", "满500减500", "", nil, nil},
		{"consumer association, traditional", "再不處理我就去消委會", "", []string{"consumer_association"}, nil},
		{"regulator, traditional", "我會向市場監管局舉報", "", []string{"regulator"}, nil},
		{"lawyer's letter", "我已经请了律師，準備起訴", "", []string{"lawsuit"}, nil},
		{"English, any case", "This is FAKE, a Counterfeit!", "counterfeit", nil, nil},
		{"English word boundaries", "the fakery of it all", "", nil, nil},
		{"counterfeit, traditional", "你們賣假貨，根本不是正品", "counterfeit", nil, nil},
		{"passed around", "客服推來推去，踢皮球", "service_attitude", []string{"passed_around"}, nil},
		{"privacy", "我的個人資料被洩露了，天天接到騷擾電話", "privacy", nil, nil},
		{"VIP flag", "我是88VIP会员", "", nil, []string{"vip"}},
		{"nothing", "你好，请问什么时候上新？", "", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := m.Match(tc.text)
			cat, _ := r.Category()
			if cat != tc.category {
				t.Errorf("category = %q, want %q (hits %+v)", cat, tc.category, r.Categories)
			}
			if got := r.SignalIDs(); !sameSet(got, tc.signals) {
				t.Errorf("signals = %v, want %v", got, tc.signals)
			}
			if got := r.FlagIDs(); !sameSet(got, tc.flags) {
				t.Errorf("flags = %v, want %v", got, tc.flags)
			}
		})
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

func TestMatcherReportsKeywordsAsWritten(t *testing.T) {
	r := shipped(t).Matcher().Match("質量問題，质量太差，做工差")
	if len(r.Categories) != 1 || r.Categories[0].ID != "quality" {
		t.Fatalf("categories = %+v", r.Categories)
	}
	h := r.Categories[0]
	// 質量 and 质量 are one keyword after folding: reported once, as first listed.
	if !slices.Contains(h.Keywords, "质量") || slices.Contains(h.Keywords, "質量") || !slices.Contains(h.Keywords, "做工差") {
		t.Errorf("keywords = %v", h.Keywords)
	}
	if h.Count < 4 {
		t.Errorf("count = %d, want every occurrence counted", h.Count)
	}
}

func TestMatcherPrefersTheCategoryWithMoreHits(t *testing.T) {
	r := shipped(t).Matcher().Match("快递送来的东西质量不好，物流太慢，包裹也破了，快递员态度差")
	if got, _ := r.Category(); got != "logistics_wrong_item" {
		t.Errorf("category = %q, want logistics_wrong_item (hits %+v)", got, r.Categories)
	}
}

// TestMatcherFoldsTraditionalNotListed relies on the built-in map: the minimal
// policy lists only 咨询, and 諮詢 must still match.
func TestMatcherFoldsTraditionalNotListed(t *testing.T) {
	r := minimal(t).Matcher().Match("我想諮詢一下")
	if got, _ := r.Category(); got != "other" {
		t.Errorf("category = %q, want other", got)
	}
}

func TestMatcherIsSafeForConcurrentUse(t *testing.T) {
	m := shipped(t).Matcher()
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				text := fmt.Sprintf("第%d次：實在不行我只能315了 %d", j, i)
				if ids := m.Match(text).SignalIDs(); !slices.Contains(ids, "threat_315") {
					errs <- text
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("missed threat_315 in %q", e)
	}
}

func TestNormalize(t *testing.T) {
	n := NewNormalizer()
	cases := []struct{ in, want string }{
		{"ＡＢＣ１２３", "abc123"},
		{"Hello WORLD", "hello world"},
		{"3・15", "3·15"},
		{"3•15", "3·15"},
		{"質量問題", "质量问题"},
		{"退一賠三", "退一赔三"},
		{"消委會", "消委会"},
		{"质量问题", "质量问题"},
		{"假\u200b货", "假货"},
		{"  a \t\n　b  ", "a b"},
		{"", ""},
	}
	for _, tc := range cases {
		if got := n.Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestTraditionalMapIsSound guards the table: one target per character, and
// folding is idempotent (no simplified character is itself a key).
func TestTraditionalMapIsSound(t *testing.T) {
	rs := []rune(t2sPairs)
	if len(rs)%2 != 0 {
		t.Fatalf("t2sPairs has an odd number of runes")
	}
	seen := map[rune]rune{}
	for i := 0; i < len(rs); i += 2 {
		trad, simp := rs[i], rs[i+1]
		if trad == simp {
			t.Errorf("%c maps to itself", trad)
		}
		if prev, dup := seen[trad]; dup && prev != simp {
			t.Errorf("%c maps to both %c and %c", trad, prev, simp)
		}
		seen[trad] = simp
	}
	for trad, simp := range seen {
		if _, again := seen[simp]; again {
			t.Errorf("%c -> %c is not idempotent", trad, simp)
		}
	}
	n := NewNormalizer()
	sample := "质量问题过期变质假货满减视频协会体验记者猫诉律师诉讼场监赔价码规则虚广传骗错发递运输态务隐泄个资讯电话号坏换台评联系没为买卖东说还给这们来时间问题应该处医疗药"
	if got := n.Normalize(sample); got != sample {
		t.Errorf("simplified text changed by folding:\n got %s\nwant %s", got, sample)
	}
}

func TestShippedKeywordsAllMatchThemselves(t *testing.T) {
	p := shipped(t)
	m := p.Matcher()
	for _, c := range p.Categories {
		for _, kw := range c.Keywords {
			r := m.Match("「" + kw + "」")
			found := false
			for _, h := range r.Categories {
				found = found || h.ID == c.ID
			}
			if !found {
				t.Errorf("category %s keyword %q does not match itself", c.ID, kw)
			}
		}
	}
	for _, s := range p.Risk.Signals {
		for _, kw := range s.Keywords {
			if !slices.Contains(m.Match(" "+kw+" ").SignalIDs(), s.ID) {
				t.Errorf("signal %s keyword %q does not match itself", s.ID, kw)
			}
		}
	}
}
