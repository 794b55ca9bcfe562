// Package render turns a season report into files: JSON, CSV, XLSX and a
// self-contained HTML page. Every format but JSON is built from the same
// tables, so the numbers agree across formats.
package render

import (
	"fmt"

	"github.com/kesu315/kesu/services/reporting/internal/domain"
)

// Kinds of a column: how a value is shown (the value itself is a number for
// every kind but text).
const (
	KindText  = "text"
	KindInt   = "int"
	KindFloat = "float"
	KindRate  = "rate" // a fraction 0..1 shown as a percentage
	KindYuan  = "yuan" // yuan from fen, 2 decimals
)

// Column is a table column.
type Column struct {
	Key   string
	Label string
	Kind  string
}

// Table is one section of the report.
type Table struct {
	ID      string
	Title   string
	Columns []Column
	Rows    [][]any
}

type tb struct{ lang string }

func (t tb) c(key, zh, en, kind string) Column {
	return Column{Key: key, Label: domain.T(t.lang, zh, en), Kind: kind}
}

func yuan(fen int64) float64 { return float64(fen) / 100 }

// metricColumns are the columns of every group table (channel, category,
// product, phase, team, tier, agent).
func (t tb) metricColumns() []Column {
	return []Column{
		t.c("complaints", "投诉量", "Complaints", KindInt),
		t.c("first_response_mean_seconds", "平均首次响应（秒）", "Mean first response (s)", KindFloat),
		t.c("chat_answer_30s_rate", "30秒应答率", "30-second answer rate", KindRate),
		t.c("answered_within_2h_rate", "2小时内响应", "Answered within 2 h", KindRate),
		t.c("answered_within_24h_rate", "24小时内响应", "Answered within 24 h", KindRate),
		t.c("resolution_72h_rate", "72小时解决率", "72-hour resolution rate", KindRate),
		t.c("resolve_mean_hours", "平均解决时长（小时）", "Mean hours to resolve", KindFloat),
		t.c("remedy_amount_yuan", "补救金额（元）", "Remedies (yuan)", KindYuan),
		t.c("escalated", "升级", "Escalated", KindInt),
		t.c("major", "重大投诉", "Major", KindInt),
		t.c("breaches", "超时次数", "Breaches", KindInt),
		t.c("repeat_rate", "多次进线率", "Repeat contact rate", KindRate),
		t.c("transfers", "转派次数", "Transfers", KindInt),
		t.c("satisfaction_rate", "满意率", "Satisfaction rate", KindRate),
		t.c("reopen_rate", "重开率", "Reopen rate", KindRate),
		t.c("open", "未解决", "Open", KindInt),
	}
}

func metricValues(m domain.Metrics) []any {
	return []any{
		m.Complaints, m.FirstResponseMeanSeconds, m.ChatAnswer30sRate, m.AnsweredWithin2hRate, m.AnsweredWithin24hRate,
		m.Resolution72hRate, m.ResolveMeanHours, yuan(m.RemedyAmountFen), m.Escalated, m.Major, m.Breaches,
		m.RepeatRate, m.Transfers, m.SatisfactionRate, m.ReopenRate, m.Open,
	}
}

func (t tb) groups(id, zh, en string, g []domain.Keyed, keyLabel Column) Table {
	tab := Table{ID: id, Title: domain.T(t.lang, zh, en),
		Columns: append([]Column{keyLabel, t.c("name", "名称", "Name", KindText)}, t.metricColumns()...)}
	for _, k := range g {
		tab.Rows = append(tab.Rows, append([]any{k.Key, k.Label}, metricValues(k.Metrics)...))
	}
	return tab
}

func (t tb) counts(id, zh, en string, c []domain.Count, amount bool) Table {
	tab := Table{ID: id, Title: domain.T(t.lang, zh, en), Columns: []Column{
		t.c("key", "代码", "Code", KindText), t.c("name", "名称", "Name", KindText), t.c("count", "数量", "Count", KindInt)}}
	if amount {
		tab.Columns = append(tab.Columns, t.c("amount_yuan", "金额（元）", "Amount (yuan)", KindYuan))
	}
	for _, x := range c {
		row := []any{x.Key, x.Label, x.Count}
		if amount {
			row = append(row, yuan(x.AmountFen))
		}
		tab.Rows = append(tab.Rows, row)
	}
	return tab
}

func (t tb) kv(id, zh, en string, rows ...[]any) Table {
	tab := Table{ID: id, Title: domain.T(t.lang, zh, en), Columns: []Column{
		t.c("metric", "指标", "Metric", KindText), t.c("name", "名称", "Name", KindText), t.c("value", "数值", "Value", KindFloat)}}
	tab.Rows = rows
	return tab
}

func (t tb) row(key, zh, en string, v any) []any { return []any{key, domain.T(t.lang, zh, en), v} }

func (t tb) items(id, zh, en string, l domain.Listing, lb func(dim, id string) string) Table {
	tab := Table{ID: id, Title: domain.T(t.lang, zh, en), Columns: []Column{
		t.c("complaint_id", "投诉编号", "Complaint", KindText), t.c("filed_at", "受理时间", "Filed", KindText),
		t.c("phase", "阶段", "Phase", KindText), t.c("channel", "渠道", "Channel", KindText),
		t.c("category", "类别", "Category", KindText), t.c("severity", "严重程度", "Severity", KindText),
		t.c("reasons", "原因", "Reasons", KindText), t.c("status", "状态", "Status", KindText),
		t.c("owner", "负责人", "Owner", KindText), t.c("team", "组别", "Team", KindText),
		t.c("level", "升级层级", "Level", KindText), t.c("age_hours", "时长（小时）", "Age (hours)", KindFloat)}}
	for _, it := range l.Items {
		reasons := ""
		for i, r := range it.Reasons {
			if i > 0 {
				reasons += ", "
			}
			reasons += lb("major", r)
		}
		tab.Rows = append(tab.Rows, []any{it.ComplaintID, it.FiledAt.Format("2006-01-02 15:04Z"), lb("phase", it.Phase),
			lb("channel", it.Channel), lb("category", it.Category), lb("severity", it.Severity), reasons,
			lb("status", it.Status), it.Owner, lb("team", it.Team), lb("level", it.Level), round1(it.AgeHours)})
	}
	return tab
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

// Tables lists the report's sections as tables, in the report's order.
func Tables(r *domain.Report, lb func(dim, id string) string) []Table {
	t := tb{lang: r.Language}
	o := r.Overview
	tot := o.Total
	overview := t.kv("overview", "总览", "Overview",
		t.row("complaints", "投诉量", "Complaints", tot.Complaints),
		t.row("major", "重大投诉", "Major complaints", tot.Major),
		t.row("open", "未解决", "Open at report time", tot.Open),
		t.row("first_response_mean_seconds", "平均首次响应（秒）", "Mean first response (s)", tot.FirstResponseMeanSeconds),
		t.row("chat_answer_30s_rate", "30秒应答率", "30-second answer rate (chat)", tot.ChatAnswer30sRate),
		t.row("resolution_72h_rate", "72小时解决率", "72-hour resolution rate", tot.Resolution72hRate),
		t.row("satisfaction_rate", "满意率", "Satisfaction rate", tot.SatisfactionRate),
		t.row("reopen_rate", "重开率", "Reopen rate", tot.ReopenRate),
		t.row("repeat_rate", "多次进线率", "Repeat contact rate", tot.RepeatRate),
		t.row("remedy_amount_yuan", "补救金额（元）", "Remedies (yuan)", yuan(tot.RemedyAmountFen)),
	)
	if ls := o.LastSeason; ls != nil {
		overview.Columns = append(overview.Columns, t.c("last_season", fmt.Sprintf("%d年", ls.Year), fmt.Sprint(ls.Year), KindFloat))
		l := ls.Total
		for i, v := range []any{l.Complaints, l.Major, l.Open, l.FirstResponseMeanSeconds, l.ChatAnswer30sRate, l.Resolution72hRate,
			l.SatisfactionRate, l.ReopenRate, l.RepeatRate, yuan(l.RemedyAmountFen)} {
			overview.Rows[i] = append(overview.Rows[i], v)
		}
	}
	// Rates in a key/value table are fractions; mark them so XLSX and HTML show percentages.
	phases := t.groups("by_phase", "分阶段", "By phase", o.ByPhase, t.c("phase", "阶段", "Phase", KindText))
	days := Table{ID: "by_day", Title: domain.T(t.lang, "每日投诉量", "Complaints by day"), Columns: []Column{
		t.c("date", "日期", "Date", KindText), t.c("phase", "阶段", "Phase", KindText), t.c("complaints", "投诉量", "Complaints", KindInt)}}
	if o.LastSeason != nil {
		days.Columns = append(days.Columns, t.c("last_season", fmt.Sprintf("%d年同期", o.LastSeason.Year), fmt.Sprintf("Same day %d", o.LastSeason.Year), KindInt))
	}
	for _, d := range o.ByDay {
		row := []any{d.Date, lb("phase", d.Phase), d.Complaints}
		if o.LastSeason != nil {
			row = append(row, d.LastSeason)
		}
		days.Rows = append(days.Rows, row)
	}
	resp := Table{ID: "responsiveness", Title: domain.T(t.lang, "响应", "Responsiveness"), Columns: []Column{
		t.c("phase", "阶段", "Phase", KindText), t.c("name", "名称", "Name", KindText), t.c("responded", "已响应", "Responded", KindInt),
		t.c("mean_seconds", "平均（秒）", "Mean (s)", KindFloat), t.c("median_seconds", "中位数（秒）", "Median (s)", KindFloat),
		t.c("p90_seconds", "P90（秒）", "P90 (s)", KindFloat)}}
	fr := r.Response.FirstResponseSeconds
	resp.Rows = append(resp.Rows, []any{"season", domain.T(t.lang, "全季", "Season"), fr.Count, fr.Mean, fr.Median, fr.P90})
	for _, p := range r.Response.ByPhase {
		resp.Rows = append(resp.Rows, []any{p.Phase, p.Label, p.Count, p.Mean, p.Median, p.P90})
	}
	rates := t.kv("response_rates", "响应达标率", "Response rates",
		t.row("chat_answer_30s_rate", "30秒应答率（在线客服）", "30-second answer rate (chat)", r.Response.ChatAnswer30sRate),
		t.row("answered_within_2h_rate", "2小时内响应占比", "Answered within 2 h", r.Response.Within2hRate),
		t.row("answered_within_24h_rate", "24小时内响应占比", "Answered within 24 h", r.Response.Within24hRate))
	res := Table{ID: "resolution", Title: domain.T(t.lang, "解决", "Resolution"), Columns: []Column{
		t.c("phase", "阶段", "Phase", KindText), t.c("name", "名称", "Name", KindText), t.c("resolved", "已解决", "Resolved", KindInt),
		t.c("mean_hours", "平均（小时）", "Mean (h)", KindFloat), t.c("median_hours", "中位数（小时）", "Median (h)", KindFloat),
		t.c("p90_hours", "P90（小时）", "P90 (h)", KindFloat)}}
	hr := r.Resolution.HoursToResolve
	res.Rows = append(res.Rows, []any{"season", domain.T(t.lang, "全季", "Season"), hr.Count, hr.Mean, hr.Median, hr.P90})
	for _, p := range r.Resolution.ByPhase {
		res.Rows = append(res.Rows, []any{p.Phase, p.Label, p.Count, p.Mean, p.Median, p.P90})
	}
	resRates := t.kv("resolution_rates", "解决率与挽留", "Resolution rates and retention",
		t.row("resolution_72h_rate", "72小时解决率", "72-hour resolution rate", r.Resolution.Resolution72hRate),
		t.row("resolved_within_72h", "72小时内解决", "Resolved within 72 h", r.Resolution.ResolvedWithin72h),
		t.row("resolved", "已解决", "Resolved", r.Resolution.Resolved),
		t.row("retention_kept", "挽留成功（未退货）", "Returns retained", r.Resolution.Retention.Kept),
		t.row("retention_returned", "已退货", "Returned", r.Resolution.Retention.Returned),
		t.row("retention_rate", "退货挽留率", "Return retention rate", r.Resolution.Retention.Rate))
	esc := t.counts("escalations_by_level", "升级（按层级）", "Escalations by level", r.Escalations.ByLevel, false)
	escR := t.counts("escalations_by_reason", "升级（按原因）", "Escalations by reason", r.Escalations.ByReason, false)
	escNow := t.counts("escalation_level_now", "当前升级层级", "Current escalation level", r.Escalations.CurrentLevel, false)
	p := r.Promises
	promises := t.kv("promises", "承诺兑现", "Promises",
		t.row("made", "承诺次数", "Made", p.Made), t.row("kept", "已兑现", "Kept", p.Kept),
		t.row("broken", "未兑现", "Broken", p.Broken), t.row("kept_rate", "兑现率", "Kept rate", p.KeptRate))
	rp := r.Repeat
	repeat := t.kv("repeat_contacts", "多次进线", "Repeat contacts",
		t.row("repeat", "多次进线投诉", "Complaints with repeat contacts", rp.Repeat),
		t.row("rate", "多次进线率", "Repeat contact rate", rp.Rate),
		t.row("repeat_satisfaction_rate", "多次进线满意率", "Satisfaction, repeat contact", rp.RepeatSatisfactionRate),
		t.row("repeat_rated", "多次进线已评价", "Rated, repeat contact", rp.RepeatRated),
		t.row("first_contact_satisfaction_rate", "首次进线满意率", "Satisfaction, first contact", rp.FirstContactSatisfactionRate),
		t.row("first_contact_rated", "首次进线已评价", "Rated, first contact", rp.FirstContactRated))
	tr := r.Transfers
	transfers := t.counts("transfers", "转派（踢皮球）", "Transfers", tr.ByCount, false)
	transfers.Rows = append([][]any{
		{"transferred", domain.T(t.lang, "被转派投诉", "Complaints transferred"), tr.Transferred},
		{"transfers", domain.T(t.lang, "转派总次数", "Transfers in all"), tr.Transfers},
	}, transfers.Rows...)
	s := r.Satisfy
	sat := t.kv("satisfaction", "满意度", "Satisfaction",
		t.row("ever_resolved", "已解决（含重开）", "Resolved at least once", s.EverResolved),
		t.row("followed_up", "已回访", "Followed up", s.FollowedUp),
		t.row("follow_up_coverage", "回访覆盖率", "Follow-up coverage", s.FollowUpCoverage),
		t.row("rated", "已评价", "Rated", s.Rated), t.row("satisfied", "满意", "Satisfied", s.Satisfied),
		t.row("satisfaction_rate", "满意率", "Satisfaction rate", s.SatisfactionRate),
		t.row("reopened", "重开", "Reopened", s.Reopened), t.row("reopen_rate", "重开率", "Reopen rate", s.ReopenRate))
	findings := Table{ID: "findings", Title: domain.T(t.lang, "主要发现", "Findings"), Columns: []Column{
		t.c("n", "序号", "No.", KindInt), t.c("finding", "发现", "Finding", KindText)}}
	for i, f := range r.Findings {
		findings.Rows = append(findings.Rows, []any{int64(i + 1), f})
	}
	return []Table{
		findings, overview, phases, days,
		t.groups("channels", "渠道", "Channels", r.Channels, t.c("channel", "渠道", "Channel", KindText)),
		t.groups("categories", "类别", "Categories", r.Categories, t.c("category", "类别", "Category", KindText)),
		t.groups("products", "投诉最多的商品", "Products with the most complaints", r.Products, t.c("sku_id", "SKU", "SKU", KindText)),
		resp, rates, res, resRates,
		t.counts("remedies", "补救（按类型）", "Remedies by kind", r.Resolution.Remedies, true),
		esc, escR, escNow,
		t.items("major_complaints", "重大投诉", "Major complaints", r.Major, lb),
		t.counts("deadline_breaches", "超时（按时钟）", "Deadline breaches by clock", r.Breaches, false),
		promises, repeat, transfers, sat,
		t.groups("by_team", "按组别", "By team", r.Teams, t.c("team", "组别", "Team", KindText)),
		t.groups("by_tier", "按层级", "By tier", r.Tiers, t.c("tier", "层级", "Tier", KindText)),
		t.groups("by_agent", "按坐席", "By agent", r.Agents, t.c("agent_id", "坐席", "Agent", KindText)),
		t.items("unresolved", "未解决纠纷", "Unresolved disputes", r.Unresolved, lb),
	}
}
