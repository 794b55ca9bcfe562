package domain

import (
	"fmt"
	"strings"

	"github.com/kesu315/kesu/services/kit/policy"
)

// IsEnglish reports whether a language tag asks for English; everything else
// is simplified Chinese, the product's default.
func IsEnglish(lang string) bool { return lang == "en" || strings.HasPrefix(lang, "en-") }

// NormalizeLanguage returns "en" or "zh-CN".
func NormalizeLanguage(lang string) string {
	if IsEnglish(lang) {
		return "en"
	}
	return "zh-CN"
}

type pair struct{ zh, en string }

func (p pair) in(lang string) string {
	if IsEnglish(lang) {
		return p.en
	}
	return p.zh
}

// fixed labels of ids that are not in the policy file.
var fixed = map[string]map[string]pair{
	"remedy_kind": {
		"refund": {"退款", "Refund"}, "exchange": {"换货", "Exchange"}, "return": {"退货", "Return"},
		"compensation": {"补偿", "Compensation"}, "apology": {"致歉", "Apology"}, "repair": {"维修", "Repair"},
		"refund_triple": {"退一赔三", "Refund plus triple"}, "refund_tenfold": {"退一赔十", "Refund plus tenfold"},
		"other": {"其他", "Other"}, "": {"无补救", "No remedy"},
	},
	"retention": {"kept": {"挽留成功", "Kept"}, "returned": {"已退回", "Returned"}, "not_applicable": {"不适用", "Not applicable"}, "": {"未记录", "Not recorded"}},
	"clock": {
		"first_response": {"首次响应", "First response"}, "next_response": {"再次响应", "Next response"},
		"resolution": {"72小时解决", "72-hour resolution"}, "odr": {"12315 ODR 10个工作日", "12315 ODR 10 working days"},
		"promise": {"承诺", "Promise"}, "follow_up": {"回访", "Follow-up"},
	},
	"level": {"agent": {"一线坐席", "Agent"}, "supervisor": {"现场主管", "Supervisor"}, "platform": {"平台介入", "Platform"}, "pr": {"危机公关", "Crisis / PR"}, "": {"未升级", "Not escalated"}},
	"trigger": {
		"breach": {"超时", "Deadline breach"}, "severity": {"严重程度", "Severity"}, "repeat_contacts": {"多次进线", "Repeat contacts"},
		"transfers": {"多次转派", "Transfers"}, "broken_promise": {"承诺未兑现", "Broken promise"}, "dissatisfied": {"回访不满意", "Dissatisfied"},
		"manual": {"人工升级", "Manual"}, "": {"未说明", "Unspecified"},
	},
	"major":    {"media": {"媒体", "Media"}, "official": {"政府官员", "Official"}, "celebrity": {"名人", "Celebrity"}, "threat": {"公开威胁（315/12315/曝光/诉讼）", "Public threat (315 / 12315 / exposure / lawsuit)"}, "severity": {"严重程度", "Severity"}},
	"status":   {"open": {"处理中", "Open"}, "resolved": {"已解决", "Resolved"}, "closed": {"已关闭", "Closed"}},
	"repeat":   {"repeat": {"多次进线", "Repeat contact"}, "first": {"首次进线", "First contact"}},
	"severity": {"normal": {"一般", "Normal"}, "high": {"较高", "High"}, "major": {"重大", "Major"}, "crisis": {"危机", "Crisis"}},
}

// Labeler names ids for people: policy names for phases, channels,
// categories, queues and tiers; fixed names for the rest.
type Labeler struct {
	Policy *policy.Policy
	Lang   string
}

// Label names id of a dimension ("phase", "channel", "category", "team",
// "tier", "remedy_kind", "clock", …). Unknown ids are shown as they are.
func (l Labeler) Label(dim, id string) string {
	switch dim {
	case "phase":
		return policy.Phase(id).DisplayName().In(l.Lang)
	case "channel":
		if c, ok := l.Policy.Channel(id); ok {
			return c.Name.In(l.Lang)
		}
	case "category":
		if id == "" {
			return pair{"未分类", "Unclassified"}.in(l.Lang)
		}
		if c, ok := l.Policy.Category(id); ok {
			return c.Name.In(l.Lang)
		}
	case "team":
		if id == "" {
			return pair{"未分派", "Unrouted"}.in(l.Lang)
		}
		if q, ok := l.Policy.Queue(id); ok {
			return q.Name.In(l.Lang)
		}
	case "tier":
		var n int
		if _, err := fmt.Sscan(id, &n); err == nil {
			if t, ok := l.Policy.Tier(n); ok {
				return t.Name.In(l.Lang)
			}
		}
		return pair{"未分配", "Unassigned"}.in(l.Lang)
	case "agent":
		if id == "" {
			return pair{"未分配", "Unassigned"}.in(l.Lang)
		}
	case "product":
		if id == "" {
			return pair{"无商品", "No product"}.in(l.Lang)
		}
	default:
		if m, ok := fixed[dim]; ok {
			if p, ok := m[id]; ok {
				return p.in(l.Lang)
			}
		}
	}
	return id
}

// T picks the zh-CN or en text.
func T(lang, zh, en string) string { return pair{zh, en}.in(lang) }
