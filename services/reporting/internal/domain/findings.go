package domain

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

func pct(f float64) string { return fmt.Sprintf("%.1f%%", f*100) }

// Findings writes the short findings section from the numbers: volume, the
// largest changes against last season, the worst categories and products,
// the clocks breached most, and what is still open. Only facts, no filler;
// a sentence whose numbers are absent is left out.
func Findings(r *Report, lang string) []string {
	var out []string
	say := func(zh, en string, args ...any) {
		out = append(out, fmt.Sprintf(T(lang, zh, en), args...))
	}
	t := r.Overview.Total
	if t.Complaints == 0 {
		say("本季没有投诉。", "No complaints this season.")
		return out
	}
	peak := slices.MaxFunc(r.Overview.ByPhase, func(a, b Keyed) int { return cmp.Compare(a.Complaints, b.Complaints) })
	say("本季共受理投诉 %d 件，%s期最多，%d 件（%s）。", "%d complaints this season; most in %s: %d (%s).",
		t.Complaints, peak.Label, peak.Complaints, pct(ratio(peak.Complaints, t.Complaints)))

	if ls := r.Overview.LastSeason; ls != nil && ls.Total.Complaints > 0 {
		type change struct {
			zh, en   string
			rel      float64
			from, to string
			defined  bool // both seasons have a denominator
		}
		var ch []change
		rel := func(a, b float64) float64 {
			if a == 0 {
				return math.Inf(1)
			}
			return (b - a) / a
		}
		lt := ls.Total
		ch = append(ch,
			change{"投诉量", "complaint volume", rel(float64(lt.Complaints), float64(t.Complaints)), fmt.Sprint(lt.Complaints), fmt.Sprint(t.Complaints), true},
			change{"72小时解决率", "72-hour resolution rate", rel(lt.Resolution72hRate, t.Resolution72hRate), pct(lt.Resolution72hRate), pct(t.Resolution72hRate), true},
			change{"满意率", "satisfaction rate", rel(lt.SatisfactionRate, t.SatisfactionRate), pct(lt.SatisfactionRate), pct(t.SatisfactionRate), lt.Rated > 0 && t.Rated > 0},
			change{"平均首次响应时间（秒）", "mean first response (s)", rel(lt.FirstResponseMeanSeconds, t.FirstResponseMeanSeconds), fmt.Sprintf("%.0f", lt.FirstResponseMeanSeconds), fmt.Sprintf("%.0f", t.FirstResponseMeanSeconds), lt.Responded > 0 && t.Responded > 0},
			change{"多次进线率", "repeat contact rate", rel(lt.RepeatRate, t.RepeatRate), pct(lt.RepeatRate), pct(t.RepeatRate), true},
			change{"重大投诉", "major complaints", rel(float64(lt.Major), float64(t.Major)), fmt.Sprint(lt.Major), fmt.Sprint(t.Major), true},
		)
		// Volume first, then the two largest other changes.
		rest := slices.DeleteFunc(ch[1:], func(c change) bool { return !c.defined || c.rel == 0 || math.IsNaN(c.rel) || c.from == c.to })
		slices.SortStableFunc(rest, func(a, b change) int { return cmp.Compare(math.Abs(b.rel), math.Abs(a.rel)) })
		ch = append(ch[:1], rest[:min(2, len(rest))]...)
		for _, c := range ch {
			if math.IsInf(c.rel, 0) {
				say("与%d年相比，%s从 %s 变为 %s。", "Against %d, %s went from %s to %s.", ls.Year, T(lang, c.zh, c.en), c.from, c.to)
				continue
			}
			say("与%d年相比，%s从 %s 变为 %s（%+.0f%%）。", "Against %d, %s went from %s to %s (%+.0f%%).", ls.Year, T(lang, c.zh, c.en), c.from, c.to, c.rel*100)
		}
	}

	if len(r.Categories) > 0 {
		c := r.Categories[0]
		say("投诉最多的类别是%s：%d 件（%s）。", "The most complained-about category is %s: %d (%s).", c.Label, c.Complaints, pct(ratio(c.Complaints, t.Complaints)))
		worst := slices.Clone(r.Categories)
		slices.SortStableFunc(worst, func(a, b Keyed) int { return cmp.Compare(a.Resolution72hRate, b.Resolution72hRate) })
		if w := worst[0]; w.Resolution72hRate < t.Resolution72hRate {
			say("72小时解决率最低的类别是%s：%s（全店 %s）。", "The category with the lowest 72-hour resolution rate is %s: %s (shop %s).", w.Label, pct(w.Resolution72hRate), pct(t.Resolution72hRate))
		}
	}
	if len(r.Products) > 0 && r.Products[0].Key != "" {
		p := r.Products[0]
		say("投诉最多的商品是 %s（%s）：%d 件。", "The product with the most complaints is %s (%s): %d.", p.Label, p.Key, p.Complaints)
	}
	if t.Breaches > 0 {
		b := slices.MaxFunc(r.Breaches, func(a, b Count) int { return cmp.Compare(a.Count, b.Count) })
		say("共超时 %d 次，最多的是%s时钟：%d 次。", "%d deadline breaches; the most on the %s clock: %d.", t.Breaches, b.Label, b.Count)
	}
	if t.PromisesBroken > 0 {
		say("承诺 %d 次，未兑现 %d 次。", "%d promises made, %d broken.", t.PromisesMade, t.PromisesBroken)
	}
	if r.Repeat.RepeatRated > 0 && r.Repeat.FirstContactRated > 0 && r.Repeat.RepeatSatisfactionRate < r.Repeat.FirstContactSatisfactionRate {
		say("多次进线投诉的满意率为 %s，低于首次进线的 %s。", "Repeat-contact complaints were %s satisfied, against %s for first-contact ones.",
			pct(r.Repeat.RepeatSatisfactionRate), pct(r.Repeat.FirstContactSatisfactionRate))
	}
	if t.Major > 0 {
		say("重大投诉 %d 件（媒体/官员/名人/公开威胁）。", "Major complaints (media / official / celebrity / public threats): %d.", t.Major)
	}
	if r.Unresolved.Total > 0 {
		oldest := 0.0
		for _, it := range r.Unresolved.Items {
			oldest = max(oldest, it.AgeHours)
		}
		say("报告时仍有 %d 件未解决，最久的已 %.0f 小时。", "%d disputes are still open at report time; the oldest is %.0f hours old.", r.Unresolved.Total, oldest)
	} else {
		say("报告时所有投诉均已解决。", "Every complaint is resolved at report time.")
	}
	return out
}
