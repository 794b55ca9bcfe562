package domain

import (
	"fmt"
	"strings"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
)

// Lang is a display language of the product: zh-CN (the default) or en.
type Lang string

// Display languages.
const (
	LangZH Lang = "zh-CN"
	LangEN Lang = "en"
)

// ParseLang maps a request's language to a display language; anything but
// English is shown in Chinese, the merchants' language.
func ParseLang(s string) Lang {
	if strings.HasPrefix(strings.ToLower(s), "en") {
		return LangEN
	}
	return LangZH
}

func pick(l Lang, zh, en string) string {
	if l == LangEN {
		return en
	}
	return zh
}

// yuan formats fen as yuan with two decimals: 3050 → "30.50".
func yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

// ChannelName is the display name of a channel.
func ChannelName(c complaintv1.Channel, l Lang) string {
	n, ok := channelNames[c]
	if !ok {
		return pick(l, "未知渠道", "unknown channel")
	}
	return pick(l, n[0], n[1])
}

var (
	channelNames = map[complaintv1.Channel][2]string{
		complaintv1.Channel_CHANNEL_ONLINE_CHAT:             {"在线客服", "online chat"},
		complaintv1.Channel_CHANNEL_HOTLINE_400:             {"400热线", "400 hotline"},
		complaintv1.Channel_CHANNEL_EMAIL:                   {"邮件", "e-mail"},
		complaintv1.Channel_CHANNEL_MARKETPLACE_ARBITRATION: {"平台介入", "marketplace arbitration"},
		complaintv1.Channel_CHANNEL_ODR_12315:               {"12315/ODR", "12315 / ODR"},
		complaintv1.Channel_CHANNEL_CONSUMER_ASSOCIATION:    {"消协", "consumer association"},
		complaintv1.Channel_CHANNEL_WEIBO:                   {"微博", "Weibo"},
		complaintv1.Channel_CHANNEL_HEIMAO:                  {"黑猫投诉", "Heimao"},
		complaintv1.Channel_CHANNEL_IN_STORE:                {"门店", "in store"},
		complaintv1.Channel_CHANNEL_OTHER:                   {"其他", "other"},
	}
	severityNames = map[complaintv1.Severity][2]string{
		complaintv1.Severity_SEVERITY_NORMAL: {"一般", "normal"},
		complaintv1.Severity_SEVERITY_HIGH:   {"较高", "high"},
		complaintv1.Severity_SEVERITY_MAJOR:  {"重大", "major"},
		complaintv1.Severity_SEVERITY_CRISIS: {"危机", "crisis"},
	}
	levelNames = map[complaintv1.EscalationLevel][2]string{
		complaintv1.EscalationLevel_ESCALATION_LEVEL_AGENT:      {"一线客服", "agent"},
		complaintv1.EscalationLevel_ESCALATION_LEVEL_SUPERVISOR: {"现场主管", "supervisor"},
		complaintv1.EscalationLevel_ESCALATION_LEVEL_PLATFORM:   {"平台介入", "platform"},
		complaintv1.EscalationLevel_ESCALATION_LEVEL_PR:         {"危机公关", "PR / crisis"},
	}
	clockNames = map[complaintv1.ClockKind][2]string{
		complaintv1.ClockKind_CLOCK_KIND_FIRST_RESPONSE: {"首次响应", "first response"},
		complaintv1.ClockKind_CLOCK_KIND_NEXT_RESPONSE:  {"再次响应", "next response"},
		complaintv1.ClockKind_CLOCK_KIND_RESOLUTION:     {"72小时解决", "72-hour resolution"},
		complaintv1.ClockKind_CLOCK_KIND_ODR:            {"ODR 10个工作日", "ODR 10 working days"},
		complaintv1.ClockKind_CLOCK_KIND_PROMISE:        {"承诺", "promise"},
		complaintv1.ClockKind_CLOCK_KIND_FOLLOW_UP:      {"回访", "follow-up"},
	}
	remedyNames = map[complaintv1.RemedyKind][2]string{
		complaintv1.RemedyKind_REMEDY_KIND_REFUND:         {"退款", "refund"},
		complaintv1.RemedyKind_REMEDY_KIND_EXCHANGE:       {"换货", "exchange"},
		complaintv1.RemedyKind_REMEDY_KIND_RETURN:         {"退货", "return"},
		complaintv1.RemedyKind_REMEDY_KIND_COMPENSATION:   {"补偿", "compensation"},
		complaintv1.RemedyKind_REMEDY_KIND_APOLOGY:        {"道歉", "apology"},
		complaintv1.RemedyKind_REMEDY_KIND_REPAIR:         {"维修", "repair"},
		complaintv1.RemedyKind_REMEDY_KIND_REFUND_TRIPLE:  {"退一赔三", "refund plus triple compensation"},
		complaintv1.RemedyKind_REMEDY_KIND_REFUND_TENFOLD: {"退一赔十", "refund plus tenfold compensation"},
		complaintv1.RemedyKind_REMEDY_KIND_OTHER:          {"其他", "other"},
	}
	satisfactionNames = map[complaintv1.Satisfaction][2]string{
		complaintv1.Satisfaction_SATISFACTION_SATISFIED:    {"满意", "satisfied"},
		complaintv1.Satisfaction_SATISFACTION_NEUTRAL:      {"一般", "neutral"},
		complaintv1.Satisfaction_SATISFACTION_DISSATISFIED: {"不满意", "dissatisfied"},
	}
	followUpOutcomeNames = map[complaintv1.FollowUpOutcome][2]string{
		complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_REACHED:   {"已接通", "reached"},
		complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_NO_ANSWER: {"未接通", "no answer"},
		complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_REFUSED:   {"拒绝回访", "refused"},
	}
)

func name[K comparable](m map[K][2]string, k K, l Lang) string {
	n, ok := m[k]
	if !ok {
		return pick(l, "未指定", "unspecified")
	}
	return pick(l, n[0], n[1])
}

// Summarize is the one line a person reads for an event in a timeline. It never
// contains personal data: that is shown apart, to those allowed to see it.
func Summarize(ev *complaintv1.Event, l Lang) string {
	switch p := ev.GetPayload().(type) {
	case *complaintv1.Event_ComplaintFiled:
		e := p.ComplaintFiled
		s := fmt.Sprintf(pick(l, "通过%s提交投诉", "Complaint filed via %s"), ChannelName(e.GetChannel(), l))
		if e.GetOrderId() != "" {
			s += fmt.Sprintf(pick(l, "，订单 %s", ", order %s"), e.GetOrderId())
		}
		if e.GetClaimedAmountFen() > 0 {
			s += fmt.Sprintf(pick(l, "，诉求金额 %s 元", ", claims %s yuan"), yuan(e.GetClaimedAmountFen()))
		}
		return s
	case *complaintv1.Event_ContactAdded:
		return fmt.Sprintf(pick(l, "第%d次进线（%s）", "Contact #%d (%s)"), p.ContactAdded.GetContactNumber(), ChannelName(p.ContactAdded.GetChannel(), l))
	case *complaintv1.Event_EvidenceAttached:
		return fmt.Sprintf(pick(l, "上传证据（%s，%d 字节）", "Evidence attached (%s, %d bytes)"), p.EvidenceAttached.GetMediaType(), p.EvidenceAttached.GetSizeBytes())
	case *complaintv1.Event_ComplaintClassified:
		e := p.ComplaintClassified
		codes := make([]string, 0, len(e.GetRiskSignals()))
		for _, r := range e.GetRiskSignals() {
			codes = append(codes, r.GetCode())
		}
		s := fmt.Sprintf(pick(l, "分类：%s，严重程度：%s", "Classified: %s, severity %s"), e.GetCategory(), name(severityNames, e.GetSeverity(), l))
		if len(codes) > 0 {
			s += fmt.Sprintf(pick(l, "，风险信号：%s", ", risk signals: %s"), strings.Join(codes, ", "))
		}
		return s
	case *complaintv1.Event_ExternalRefLinked:
		return fmt.Sprintf(pick(l, "关联外部单号 %s:%s", "Linked %s:%s"), p.ExternalRefLinked.GetRef().GetSource(), p.ExternalRefLinked.GetRef().GetExternalId())
	case *complaintv1.Event_PersonalDataErased:
		return pick(l, "客户个人信息已删除", "Customer's personal data erased")
	case *complaintv1.Event_ComplaintRouted:
		return fmt.Sprintf(pick(l, "分配到队列 %s（规则 %s）", "Routed to queue %s (rule %s)"), p.ComplaintRouted.GetQueue(), p.ComplaintRouted.GetRule())
	case *complaintv1.Event_ComplaintAssigned:
		return fmt.Sprintf(pick(l, "由客服 %s 接手", "Assigned to agent %s"), p.ComplaintAssigned.GetAgentId())
	case *complaintv1.Event_ComplaintUnassigned:
		return fmt.Sprintf(pick(l, "客服 %s 释放（%s）", "Released by agent %s (%s)"), p.ComplaintUnassigned.GetAgentId(), p.ComplaintUnassigned.GetReason())
	case *complaintv1.Event_ComplaintTransferred:
		e := p.ComplaintTransferred
		return fmt.Sprintf(pick(l, "第%d次转交：%s → %s，原因：%s", "Transfer #%d: %s → %s, reason: %s"), e.GetTransferCount(), firstOf(e.GetFromAgentId(), e.GetFromQueue()), firstOf(e.GetToAgentId(), e.GetToQueue()), e.GetReason())
	case *complaintv1.Event_AgentResponded:
		if p.AgentResponded.GetFirstResponse() {
			return fmt.Sprintf(pick(l, "客服 %s 首次响应（%d 秒）", "First response by %s (%d s)"), p.AgentResponded.GetAgentId(), p.AgentResponded.GetResponseSeconds())
		}
		return fmt.Sprintf(pick(l, "客服 %s 回复", "Reply by %s"), p.AgentResponded.GetAgentId())
	case *complaintv1.Event_PromiseMade:
		return fmt.Sprintf(pick(l, "客服 %s 承诺：%s（截止 %s）", "Agent %s promised: %s (by %s)"), p.PromiseMade.GetAgentId(), p.PromiseMade.GetDescription(), p.PromiseMade.GetDueAt().AsTime().Format("2006-01-02 15:04"))
	case *complaintv1.Event_RemedyProposed:
		return fmt.Sprintf(pick(l, "提出方案：%s %s 元", "Remedy proposed: %s %s yuan"), name(remedyNames, p.RemedyProposed.GetKind(), l), yuan(p.RemedyProposed.GetAmountFen()))
	case *complaintv1.Event_RemedyApproved:
		return fmt.Sprintf(pick(l, "%s 批准方案（%s 元）", "Remedy approved by %s (%s yuan)"), p.RemedyApproved.GetApprovedBy(), yuan(p.RemedyApproved.GetAmountFen()))
	case *complaintv1.Event_RemedyRejected:
		return fmt.Sprintf(pick(l, "%s 驳回方案：%s", "Remedy rejected by %s: %s"), p.RemedyRejected.GetRejectedBy(), p.RemedyRejected.GetReason())
	case *complaintv1.Event_ComplaintResolved:
		s := pick(l, "投诉已解决", "Complaint resolved")
		if k := p.ComplaintResolved.GetRemedyKind(); k != complaintv1.RemedyKind_REMEDY_KIND_UNSPECIFIED {
			s += fmt.Sprintf(pick(l, "：%s %s 元", ": %s %s yuan"), name(remedyNames, k, l), yuan(p.ComplaintResolved.GetRemedyAmountFen()))
		}
		return s
	case *complaintv1.Event_DeadlineBreached:
		return fmt.Sprintf(pick(l, "超时：%s时限已过", "Deadline breached: %s"), name(clockNames, p.DeadlineBreached.GetClock(), l))
	case *complaintv1.Event_ComplaintEscalated:
		e := p.ComplaintEscalated
		return fmt.Sprintf(pick(l, "升级：%s → %s，原因：%s", "Escalated: %s → %s, reason: %s"), name(levelNames, e.GetFromLevel(), l), name(levelNames, e.GetToLevel(), l), e.GetReason())
	case *complaintv1.Event_RiskFlagged:
		return fmt.Sprintf(pick(l, "风险标记：%s", "Risk flagged: %s"), p.RiskFlagged.GetSignal().GetCode())
	case *complaintv1.Event_PromiseBroken:
		return fmt.Sprintf(pick(l, "承诺未兑现：%s", "Promise broken: %s"), p.PromiseBroken.GetDescription())
	case *complaintv1.Event_FollowUpScheduled:
		return fmt.Sprintf(pick(l, "安排回访（%s）", "Follow-up scheduled (%s)"), p.FollowUpScheduled.GetDueAt().AsTime().Format("2006-01-02 15:04"))
	case *complaintv1.Event_FollowUpAttempted:
		return fmt.Sprintf(pick(l, "第%d次回访：%s", "Follow-up attempt %d: %s"), p.FollowUpAttempted.GetAttempt(), name(followUpOutcomeNames, p.FollowUpAttempted.GetOutcome(), l))
	case *complaintv1.Event_SatisfactionRecorded:
		return fmt.Sprintf(pick(l, "满意度：%s（%d 分）", "Satisfaction: %s (%d/5)"), name(satisfactionNames, p.SatisfactionRecorded.GetSatisfaction(), l), p.SatisfactionRecorded.GetScore())
	case *complaintv1.Event_ComplaintReopened:
		return fmt.Sprintf(pick(l, "重新打开：%s", "Reopened: %s"), p.ComplaintReopened.GetReason())
	case *complaintv1.Event_ComplaintClosed:
		return pick(l, "投诉已关闭", "Complaint closed")
	}
	return pick(l, "未知事件", "Unknown event")
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
