package domain

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/policy"
)

// classifierRevision changes whenever Classify decides differently from the
// same policy; ClassifierVersion records it with the policy's digest so a
// classification can be traced to the code and the rules that made it.
const classifierRevision = 1

// ClassifyInput is what is known about a complaint when it is classified.
type ClassifyInput struct {
	ShopID string
	// At is when the complaint was filed; it picks the season phase.
	At time.Time
	// Text is the description plus any later contact texts, joined. Only the
	// policy keywords found in it ever leave Classify.
	Text        string
	Channel     complaintv1.Channel
	Complainant *complaintv1.Complainant
	// DeclaredType is the customer type set by the source or an agent; it
	// wins over the hint when set.
	DeclaredType complaintv1.CustomerType
	// Contacts counts contacts so far, 1 for the first (0 is read as 1).
	Contacts int
	// Transfers counts hand-overs between agents or queues so far.
	Transfers        int
	ClaimedAmountFen int64
	OrderAmountFen   int64
	// Followers is the reach of the complainant's public post, when known.
	Followers int64
}

// Classify decides a complaint's category, risk signals, severity and
// customer type from the policy. It is deterministic: the same policy and
// input give the same message, signals in policy order. Every signal names
// its evidence (keywords from the policy, or a count or amount), and the
// explanation quotes nothing of the text but those keywords, so the
// classification carries no personal data.
func Classify(p *policy.Policy, in ClassifyInput) *complaintv1.ComplaintClassified {
	out := &complaintv1.ComplaintClassified{
		Category:     "other",
		Severity:     complaintv1.Severity_SEVERITY_NORMAL,
		CustomerType: in.DeclaredType,
	}
	if p == nil {
		out.ClassifierVersion = fmt.Sprintf("classify-r%d", classifierRevision)
		out.Explanation = "未加载策略，按默认分类。"
		return out
	}
	out.ClassifierVersion = classifierVersion(p)
	repeat := max(in.Contacts, 1) - 1
	facts := policy.FactValues{
		RepeatContacts: repeat,
		Transfers:      max(in.Transfers, 0),
		Amount:         policy.Fen(max(in.ClaimedAmountFen, in.OrderAmountFen, 0)),
		Followers:      max(in.Followers, 0),
	}
	m := p.Matcher().Match(in.Text)
	var ex explanation

	// Category.
	out.Category = p.DefaultCategory
	primary, ok := m.Category()
	if ok {
		out.Category = primary
	}
	out.SecondaryCategories = secondary(m.Categories, primary, p.DefaultCategory)
	ex.category(p, out.Category, m.Categories, out.SecondaryCategories)

	// Risk signals: words and facts, then complainant flags, in policy order.
	evidence := map[string][]string{}
	for _, h := range m.Signals {
		evidence[h.ID] = append(evidence[h.ID], strings.Join(h.Keywords, "、"))
	}
	var sigIDs []string
	for _, s := range p.Risk.Signals {
		if s.From != nil && s.From.Holds(facts) {
			evidence[s.ID] = append(evidence[s.ID], factEvidence(s.From, facts))
		}
		if ev, ok := evidence[s.ID]; ok {
			sigIDs = append(sigIDs, s.ID)
			out.RiskSignals = append(out.RiskSignals, &complaintv1.RiskSignal{Code: s.ID, Evidence: strings.Join(ev, "；"), Weight: clamp32(s.Weight)})
		}
	}
	flagEvidence := complainantFlags(p, in.Complainant)
	for _, h := range m.Flags {
		flagEvidence[h.ID] = append(flagEvidence[h.ID], strings.Join(h.Keywords, "、"))
	}
	var flagIDs []string
	for _, f := range p.Risk.Flags {
		if ev, ok := flagEvidence[f.ID]; ok {
			flagIDs = append(flagIDs, f.ID)
			out.RiskSignals = append(out.RiskSignals, &complaintv1.RiskSignal{Code: f.ID, Evidence: strings.Join(ev, "；"), Weight: clamp32(f.Weight)})
		}
	}
	ex.signals(p, out.RiskSignals)

	// Severity.
	a := p.Assess(policy.Facts{
		Signals:        sigIDs,
		Flags:          flagIDs,
		Channel:        ChannelID(in.Channel),
		RepeatContacts: facts.RepeatContacts,
		Transfers:      facts.Transfers,
	})
	out.Severity = severityOf(a.Severity)
	out.RiskScore = clamp32(a.Score)
	out.RepeatContacts = clamp32(repeat)
	ex.severity(a)

	// Customer type.
	hint, cues := hintCustomerType(p, m, sigIDs, repeat)
	if in.DeclaredType == complaintv1.CustomerType_CUSTOMER_TYPE_UNSPECIFIED {
		out.CustomerType = customerTypeOf(hint)
	}
	ex.customerType(in.DeclaredType, hint, cues)

	// Season phase.
	if phase, err := p.PhaseAt(in.ShopID, in.At); err == nil && phase != policy.PhaseOffSeason {
		out.Phase = string(phase)
		ex.add("季节阶段：" + phase.DisplayName().ZhCN + "。")
	} else if err != nil {
		ex.add("季节阶段：未知店铺，按非季内处理。")
	}
	out.Explanation = ex.String()
	return out
}

// ChannelID is the policy id of a channel: its enum name in lower case
// without the CHANNEL_ prefix (CHANNEL_ONLINE_CHAT is online_chat); "" for
// an unspecified or unknown channel.
func ChannelID(c complaintv1.Channel) string {
	if c == complaintv1.Channel_CHANNEL_UNSPECIFIED {
		return ""
	}
	name, ok := complaintv1.Channel_name[int32(c)]
	if !ok {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(name, "CHANNEL_"))
}

func classifierVersion(p *policy.Policy) string {
	d := p.Digest
	if len(d) > 12 {
		d = d[:12]
	}
	if d == "" {
		d = "unknown"
	}
	return fmt.Sprintf("classify-r%d+policy-v%d-%s", classifierRevision, p.Version, d)
}

// secondary lists the other categories found, most hits first, then in
// policy order; the default category says nothing beside a real one.
func secondary(hits []policy.Hit, primary, def string) []string {
	var rest []policy.Hit
	for _, h := range hits {
		if h.ID != primary && h.ID != def {
			rest = append(rest, h)
		}
	}
	// Insertion sort keeps policy order among equal counts (stable).
	for i := 1; i < len(rest); i++ {
		for j := i; j > 0 && rest[j].Count > rest[j-1].Count; j-- {
			rest[j], rest[j-1] = rest[j-1], rest[j]
		}
	}
	ids := make([]string, len(rest))
	for i, h := range rest {
		ids[i] = h.ID
	}
	return ids
}

// complainantFlags maps the source's complainant flags to the policy's flag
// ids, and matches the membership level against the flag keywords ("88VIP").
func complainantFlags(p *policy.Policy, c *complaintv1.Complainant) map[string][]string {
	ev := map[string][]string{}
	if c == nil {
		return ev
	}
	marks := []struct {
		id  string
		set bool
	}{{"vip", c.GetVip()}, {"media", c.GetMedia()}, {"official", c.GetOfficial()}, {"celebrity", c.GetCelebrity()}}
	for _, f := range marks {
		if _, ok := p.Flag(f.id); ok && f.set {
			ev[f.id] = append(ev[f.id], "客户档案标记")
		}
	}
	if lvl := c.GetLevel(); lvl != "" {
		for _, h := range p.Matcher().Match(lvl).Flags {
			if len(ev[h.ID]) == 0 {
				ev[h.ID] = append(ev[h.ID], "会员等级："+strings.Join(h.Keywords, "、"))
			}
		}
	}
	return ev
}

// factEvidence says which count or amount raised a derived signal.
func factEvidence(d *policy.Derivation, v policy.FactValues) string {
	switch d.Fact {
	case policy.FactRepeatContacts:
		return fmt.Sprintf("第%d次进线", v.RepeatContacts+1)
	case policy.FactTransfers:
		return fmt.Sprintf("转手%d次（≥%d）", v.Transfers, d.AtLeast)
	case policy.FactAmount:
		return fmt.Sprintf("金额%s元（≥%s元）", v.Amount, policy.Fen(d.AtLeast))
	case policy.FactFollowers:
		return fmt.Sprintf("粉丝%d（≥%d）", v.Followers, d.AtLeast)
	}
	return string(d.Fact) + "=" + strconv.FormatInt(v.Of(d.Fact), 10)
}

// hintCustomerType counts the cues of each type: distinct cue keywords,
// listed signals raised, the repeat-contact count reached. Most cues wins,
// the first listed on a tie; the default when no type has any.
func hintCustomerType(p *policy.Policy, m policy.MatchResult, sigIDs []string, repeat int) (policy.CustomerType, []string) {
	best, bestCues := p.CustomerTypes.Default, []string(nil)
	for _, c := range p.CustomerTypes.Cues {
		var cues []string
		for _, h := range m.Cues {
			if h.ID == string(c.Type) {
				cues = append(cues, h.Keywords...)
			}
		}
		for _, id := range c.Signals {
			if slices.Contains(sigIDs, id) {
				s, _ := p.Signal(id)
				cues = append(cues, s.Name.ZhCN)
			}
		}
		if c.RepeatContactsAtLeast > 0 && repeat >= c.RepeatContactsAtLeast {
			cues = append(cues, fmt.Sprintf("第%d次进线", repeat+1))
		}
		if len(cues) > len(bestCues) {
			best, bestCues = c.Type, cues
		}
	}
	return best, bestCues
}

// clamp32 keeps absurd counts from wrapping negative in the message.
func clamp32(n int) int32 { return int32(min(max(n, 0), math.MaxInt32)) }

func severityOf(s policy.Severity) complaintv1.Severity {
	switch s {
	case policy.SeverityHigh:
		return complaintv1.Severity_SEVERITY_HIGH
	case policy.SeverityMajor:
		return complaintv1.Severity_SEVERITY_MAJOR
	case policy.SeverityCrisis:
		return complaintv1.Severity_SEVERITY_CRISIS
	}
	return complaintv1.Severity_SEVERITY_NORMAL
}

func customerTypeOf(t policy.CustomerType) complaintv1.CustomerType {
	switch t {
	case policy.CustomerAggressive:
		return complaintv1.CustomerType_CUSTOMER_TYPE_AGGRESSIVE
	case policy.CustomerHabitual:
		return complaintv1.CustomerType_CUSTOMER_TYPE_HABITUAL
	case policy.CustomerQuiet:
		return complaintv1.CustomerType_CUSTOMER_TYPE_QUIET
	}
	return complaintv1.CustomerType_CUSTOMER_TYPE_UNSPECIFIED
}

func policyCustomerType(t complaintv1.CustomerType) policy.CustomerType {
	switch t {
	case complaintv1.CustomerType_CUSTOMER_TYPE_AGGRESSIVE:
		return policy.CustomerAggressive
	case complaintv1.CustomerType_CUSTOMER_TYPE_HABITUAL:
		return policy.CustomerHabitual
	case complaintv1.CustomerType_CUSTOMER_TYPE_QUIET:
		return policy.CustomerQuiet
	}
	return ""
}

// explanation builds the plain-words account of a classification, in zh-CN:
// the rules that fired and the policy keywords behind them, nothing else.
type explanation struct{ b strings.Builder }

func (e *explanation) add(s string) { e.b.WriteString(s) }

func (e *explanation) String() string { return e.b.String() }

func (e *explanation) category(p *policy.Policy, id string, hits []policy.Hit, rest []string) {
	e.add("分类：" + categoryName(p, id))
	for _, h := range hits {
		if h.ID == id {
			e.add("（关键词：" + strings.Join(h.Keywords, "、") + "）")
		}
	}
	if len(hits) == 0 {
		e.add("（无关键词命中，默认分类）")
	}
	if len(rest) > 0 {
		names := make([]string, len(rest))
		for i, r := range rest {
			names[i] = categoryName(p, r)
		}
		e.add("；另涉及：" + strings.Join(names, "、"))
	}
	e.add("。")
}

func categoryName(p *policy.Policy, id string) string {
	if c, ok := p.Category(id); ok {
		return c.Name.ZhCN
	}
	return id
}

func (e *explanation) signals(p *policy.Policy, rs []*complaintv1.RiskSignal) {
	if len(rs) == 0 {
		e.add("风险信号：无。")
		return
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		name := r.GetCode()
		if s, ok := p.Signal(r.GetCode()); ok {
			name = s.Name.ZhCN
		} else if f, ok := p.Flag(r.GetCode()); ok {
			name = f.Name.ZhCN
		}
		parts[i] = fmt.Sprintf("%s[%s]（%s，权重%d）", name, r.GetCode(), r.GetEvidence(), r.GetWeight())
	}
	e.add("风险信号：" + strings.Join(parts, "；") + "。")
}

func (e *explanation) severity(a policy.Assessment) {
	e.add(fmt.Sprintf("风险分%d，严重程度：%s", a.Score, a.Severity.DisplayName().ZhCN))
	if len(a.Reasons) > 0 {
		e.add("（" + strings.Join(a.Reasons, "；") + "）")
	}
	e.add("。")
}

func (e *explanation) customerType(declared complaintv1.CustomerType, hint policy.CustomerType, cues []string) {
	if declared != complaintv1.CustomerType_CUSTOMER_TYPE_UNSPECIFIED {
		e.add("客户类型：" + policyCustomerType(declared).DisplayName().ZhCN + "（已指定，保留）。")
		return
	}
	if hint == "" {
		return
	}
	e.add("客户类型提示：" + hint.DisplayName().ZhCN)
	if len(cues) > 0 {
		e.add("（线索：" + strings.Join(cues, "、") + "）")
	} else {
		e.add("（无激进或惯性线索）")
	}
	e.add("。")
}
