package render

import (
	"fmt"
	"html"
	"strings"

	"github.com/kesu315/kesu/services/reporting/internal/domain"
)

var phaseColor = map[string]string{"preparation": "#4e79a7", "battle": "#e15759", "aftermath": "#59a14f", "off_season": "#999999"}

// css is the page's only style. Charts shrink with a narrow page (their
// viewBox keeps the proportions). Printed, the page's own margins are the
// paper's and the tables are set smaller: the 18-column group tables were
// 1 270 px wide in English, and Chromium shrinks a printed page by at most
// 1.5 to fit the paper (about 1 080 px on A4 portrait) and cuts off the
// rest; now the fixture season fits at 880 px in English and at the
// paper's width in Chinese (adapters/chromium_test.go checks it).
const css = `body{font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",Helvetica,Arial,sans-serif;margin:24px;color:#222;font-size:13px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;border-bottom:2px solid #e15759;padding-bottom:3px;margin-top:28px}
.meta{color:#666;margin-bottom:16px}.tiles{display:flex;flex-wrap:wrap;gap:10px}
.tile{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:130px}.tile b{display:block;font-size:20px}
table{border-collapse:collapse;margin:8px 0;font-size:12px}th,td{border:1px solid #ddd;padding:3px 6px}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.legend span{display:inline-block;margin-right:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
section{break-inside:avoid}svg{max-width:100%;height:auto}svg text{font-size:10px;fill:#333}
@media print{body{margin:0}h2{break-after:avoid}table{break-inside:auto;font-size:9px}th,td{padding:1px 3px}tr{break-inside:avoid}}`

// HTML renders the report as one self-contained page: inline CSS and SVG
// charts, no scripts and no external assets, so it prints and can be mailed.
func HTML(r *domain.Report, tables []Table, lb func(dim, id string) string) []byte {
	var b strings.Builder
	e := html.EscapeString
	lang := r.Language
	T := func(zh, en string) string { return domain.T(lang, zh, en) }
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\"><title>%s · %s</title><style>%s</style></head><body>\n",
		e(lang), e(r.Title), e(r.Season.Name), css)
	fmt.Fprintf(&b, "<h1>%s</h1><div class=\"meta\">%s · %s（%s – %s）· %s %s</div>\n",
		e(r.Title), e(r.ShopName), e(r.Season.Name), e(r.Season.Start), e(r.Season.End), T("生成于", "Generated"), e(r.GeneratedAt.Format("2006-01-02 15:04 UTC")))
	b.WriteString("<div class=\"legend\">")
	for _, p := range r.Season.Phases {
		fmt.Fprintf(&b, "<span><i style=\"background:%s\"></i>%s %s – %s</span>", phaseColor[p.Phase], e(p.Label), e(p.Start), e(p.End))
	}
	b.WriteString("</div>\n")

	t := r.Overview.Total
	b.WriteString("<div class=\"tiles\">")
	for _, tile := range []struct{ label, value string }{
		{T("投诉量", "Complaints"), fmt.Sprint(t.Complaints)},
		{T("72小时解决率", "72-hour resolution"), Format(t.Resolution72hRate, KindRate)},
		{T("平均首次响应", "Mean first response"), fmt.Sprintf("%.0f s", t.FirstResponseMeanSeconds)},
		{T("30秒应答率", "30-second answer rate"), Format(t.ChatAnswer30sRate, KindRate)},
		{T("满意率", "Satisfaction"), Format(t.SatisfactionRate, KindRate)},
		{T("重大投诉", "Major complaints"), fmt.Sprint(t.Major)},
		{T("未解决", "Still open"), fmt.Sprint(t.Open)},
	} {
		fmt.Fprintf(&b, "<div class=\"tile\">%s<b>%s</b></div>", e(tile.label), e(tile.value))
	}
	b.WriteString("</div>\n")

	b.WriteString("<section><h2>" + e(T("每日投诉量", "Complaints by day")) + "</h2>")
	b.WriteString(dayChart(r))
	if r.Overview.LastSeason != nil {
		fmt.Fprintf(&b, "<div class=\"legend\"><span><i style=\"background:#333\"></i>%s</span></div>", e(fmt.Sprintf(T("折线：%d年同期", "Line: same day %d"), r.Overview.LastSeason.Year)))
	}
	b.WriteString("</section>\n")
	var phaseBars []bar
	for _, p := range r.Overview.ByPhase {
		phaseBars = append(phaseBars, bar{p.Label, float64(p.Complaints), phaseColor[p.Key], fmt.Sprint(p.Complaints)})
	}
	if ls := r.Overview.LastSeason; ls != nil {
		for _, p := range ls.ByPhase {
			phaseBars = append(phaseBars, bar{fmt.Sprintf("%s %d", p.Label, ls.Year), float64(p.Complaints), "#bbbbbb", fmt.Sprint(p.Complaints)})
		}
	}
	chartSection(&b, T("分阶段投诉量", "Complaints by phase"), phaseBars)
	chartSection(&b, T("渠道", "Channels"), keyedBars(r.Channels, "#4e79a7"))
	chartSection(&b, T("类别", "Categories"), keyedBars(r.Categories, "#f28e2b"))
	var breach []bar
	for _, c := range r.Breaches {
		breach = append(breach, bar{c.Label, float64(c.Count), "#e15759", fmt.Sprint(c.Count)})
	}
	chartSection(&b, T("超时（按时钟）", "Deadline breaches by clock"), breach)
	chartSection(&b, T("满意率：多次进线与首次进线", "Satisfaction: repeat against first contact"), []bar{
		{T("多次进线", "Repeat contact"), r.Repeat.RepeatSatisfactionRate, "#edc948", Format(r.Repeat.RepeatSatisfactionRate, KindRate)},
		{T("首次进线", "First contact"), r.Repeat.FirstContactSatisfactionRate, "#59a14f", Format(r.Repeat.FirstContactSatisfactionRate, KindRate)},
	})

	for _, tab := range tables {
		fmt.Fprintf(&b, "<section id=\"%s\"><h2>%s</h2>", e(tab.ID), e(tab.Title))
		if tab.ID == "findings" {
			b.WriteString("<ol>")
			for _, row := range tab.Rows {
				fmt.Fprintf(&b, "<li>%s</li>", e(fmt.Sprint(row[1])))
			}
			b.WriteString("</ol></section>\n")
			continue
		}
		switch tab.ID {
		case "major_complaints":
			fmt.Fprintf(&b, "<p>%s</p>", e(fmt.Sprintf(T("共 %d 件，列出 %d 件。", "%d in all, %d listed."), r.Major.Total, len(r.Major.Items))))
		case "unresolved":
			fmt.Fprintf(&b, "<p>%s</p>", e(fmt.Sprintf(T("共 %d 件，列出 %d 件。", "%d in all, %d listed."), r.Unresolved.Total, len(r.Unresolved.Items))))
		}
		if len(tab.Rows) == 0 {
			fmt.Fprintf(&b, "<p>%s</p></section>\n", e(T("无。", "None.")))
			continue
		}
		b.WriteString("<table><thead><tr>")
		for _, c := range tab.Columns {
			fmt.Fprintf(&b, "<th>%s</th>", e(c.Label))
		}
		b.WriteString("</tr></thead><tbody>")
		for ri, row := range tab.Rows {
			b.WriteString("<tr>")
			for ci, v := range row {
				kind := CellKind(tab, ri, ci)
				cls := ""
				if kind != KindText {
					cls = " class=\"n\""
				}
				fmt.Fprintf(&b, "<td%s>%s</td>", cls, e(Format(v, kind)))
			}
			b.WriteString("</tr>")
		}
		b.WriteString("</tbody></table></section>\n")
	}
	b.WriteString("</body></html>\n")
	return []byte(b.String())
}

type bar struct {
	label string
	value float64
	color string
	text  string
}

func keyedBars(g []domain.Keyed, color string) []bar {
	var out []bar
	for _, k := range g {
		out = append(out, bar{k.Label, float64(k.Complaints), color, fmt.Sprint(k.Complaints)})
	}
	return out
}

func chartSection(b *strings.Builder, title string, bars []bar) {
	b.WriteString("<section><h2>" + html.EscapeString(title) + "</h2>")
	b.WriteString(hbars(bars))
	b.WriteString("</section>\n")
}

// hbars draws horizontal bars with their labels and values.
func hbars(bars []bar) string {
	const width, labelW, rowH = 640.0, 190.0, 20.0
	maxV := 0.0
	for _, x := range bars {
		maxV = max(maxV, x.value)
	}
	h := rowH*float64(len(bars)) + 6
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img">`, width, h, width, h)
	for i, x := range bars {
		y := float64(i)*rowH + 3
		w := 0.0
		if maxV > 0 {
			w = x.value / maxV * (width - labelW - 70)
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`, labelW-6, y+13, html.EscapeString(x.label))
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.1f" width="%.1f" height="%.0f" fill="%s"/>`, labelW, y+2, w, rowH-6, x.color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`, labelW+w+4, y+13, html.EscapeString(x.text))
	}
	b.WriteString("</svg>")
	return b.String()
}

// dayChart draws the season's days as bars coloured by phase, with last
// season's same days as a line.
func dayChart(r *domain.Report) string {
	days := r.Overview.ByDay
	const width, height, left, bottom = 760.0, 220.0, 40.0, 30.0
	maxV := 1.0
	for _, d := range days {
		maxV = max(maxV, float64(d.Complaints), float64(d.LastSeason))
	}
	plotW, plotH := width-left-10, height-bottom-10
	bw := plotW / float64(max(len(days), 1))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img">`, width, height, width, height)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="10" x2="%.0f" y2="%.0f" stroke="#999"/><line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#999"/>`,
		left, left, 10+plotH, left, 10+plotH, width-10, 10+plotH)
	fmt.Fprintf(&b, `<text x="%.0f" y="16" text-anchor="end">%.0f</text><text x="%.0f" y="%.0f" text-anchor="end">0</text>`, left-4, maxV, left-4, 10+plotH)
	var line []string
	for i, d := range days {
		x := left + float64(i)*bw
		h := float64(d.Complaints) / maxV * plotH
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %d</title></rect>`,
			x+1, 10+plotH-h, max(bw-2, 1), h, phaseColor[d.Phase], d.Date, d.Complaints)
		if i%7 == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f">%s</text>`, x, height-12, d.Date[5:])
		}
		line = append(line, fmt.Sprintf("%.1f,%.1f", x+bw/2, 10+plotH-float64(d.LastSeason)/maxV*plotH))
	}
	if r.Overview.LastSeason != nil && len(line) > 0 {
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#333" stroke-width="1.5"/>`, strings.Join(line, " "))
	}
	b.WriteString("</svg>")
	return b.String()
}
