package adapters_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/xuri/excelize/v2"

	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/projection"
	"github.com/kesu315/kesu/services/reporting/internal/adapters"
	"github.com/kesu315/kesu/services/reporting/internal/app"
	"github.com/kesu315/kesu/services/reporting/internal/domain"
	"github.com/kesu315/kesu/services/reporting/internal/render"
)

var reportTime = at(2027, 4, 11, 0, 0)

func biCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return auth.WithIdentity(ctx, auth.Identity{Subject: "analyst", Role: auth.RoleBI})
}

func sp(a ...any) string { return strings.TrimSpace(fmt.Sprintln(a...)) }

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

type check struct {
	t    *testing.T
	name string
}

func (c check) eq(what string, got, want any) {
	c.t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		c.t.Errorf("%s: %s = %v, want %v", c.name, what, got, want)
	}
}

func (c check) f(what string, got, want float64) {
	c.t.Helper()
	if !near(got, want) {
		c.t.Errorf("%s: %s = %v, want %v", c.name, what, got, want)
	}
}

func keyed(g []domain.Keyed) map[string]domain.Keyed {
	m := map[string]domain.Keyed{}
	for _, k := range g {
		m[k.Key] = k
	}
	return m
}

func counts(c []domain.Count) string {
	var s []string
	for _, x := range c {
		s = append(s, fmt.Sprintf("%s=%d/%d", x.Key, x.Count, x.AmountFen))
	}
	return strings.Join(s, " ")
}

// The fixture season (fixture_test.go) checked number by number against what
// was computed by hand, then rendered in every format and both languages,
// then read through the bi views and the bi role, then rebuilt.
func TestSeasonReportMatchesTheFixture(t *testing.T) {
	e := newEnv(t)
	runner := e.runProjection(t)
	seedSeason(t, e)
	waitFor(t, runner, e.lastSeq)

	svc := app.New(adapters.NewStore(e.pool), e.pol, clock.NewManual(reportTime))
	r, err := svc.Report(biCtx(t), app.ReportRequest{Season: 2027, ShopID: "demo-flagship", Language: "zh-CN"})
	if err != nil {
		t.Fatal(err)
	}
	c := check{t, "report"}
	tot := r.Overview.Total
	// Overview: C1..C5 (C6 before the season, C7 another shop).
	c.eq("complaints", tot.Complaints, 5)
	ph := keyed(r.Overview.ByPhase)
	c.eq("preparation (C1, and C2 filed the evening before battle)", ph["preparation"].Complaints, 2)
	c.eq("battle", ph["battle"].Complaints, 2)
	c.eq("aftermath", ph["aftermath"].Complaints, 1)
	c.eq("phase order", sp(r.Overview.ByPhase[0].Key, r.Overview.ByPhase[1].Key, r.Overview.ByPhase[2].Key), "preparation battle aftermath")
	c.eq("season days", len(r.Overview.ByDay), 45)
	days := map[string]domain.DayCount{}
	for _, d := range r.Overview.ByDay {
		days[d.Date] = d
	}
	c.eq("03-05", days["2027-03-05"].Complaints, 1)
	c.eq("03-10", days["2027-03-10"].Complaints, 1)
	c.eq("03-12 (and last season's 03-12)", sp(days["2027-03-12"].Complaints, days["2027-03-12"].LastSeason), "1 1")
	c.eq("03-01 last season", sp(days["2027-03-01"].Complaints, days["2027-03-01"].LastSeason), "0 1")
	if r.Overview.LastSeason == nil {
		t.Fatal("last season 2026 has complaints: want a comparison")
	}
	lph := keyed(r.Overview.LastSeason.ByPhase)
	c.eq("last season", sp(r.Overview.LastSeason.Year, r.Overview.LastSeason.Total.Complaints, lph["preparation"].Complaints, lph["battle"].Complaints, lph["aftermath"].Complaints), "2026 2 1 1 0")

	ch := keyed(r.Channels)
	c.eq("channels", sp(ch["online_chat"].Complaints, ch["hotline_400"].Complaints, ch["weibo"].Complaints, ch["email"].Complaints), "2 1 1 1")
	c.eq("channel label", ch["hotline_400"].Label, "400 热线")
	cat := keyed(r.Categories)
	c.eq("categories", sp(cat["quality"].Complaints, cat["expired_goods"].Complaints, cat["logistics_wrong_item"].Complaints, cat["after_sales_refusal"].Complaints), "2 1 1 1")
	c.f("quality 72h rate (C1 yes, C3 open)", cat["quality"].Resolution72hRate, 0.5)
	c.eq("top product", sp(r.Products[0].Key, r.Products[0].Label, r.Products[0].Complaints), "SKU-A 保湿面霜 50ml 2")

	// Responsiveness: first responses 20, 7200, 1800, 45 s.
	fr := r.Response.FirstResponseSeconds
	c.eq("responded", fr.Count, 4)
	c.f("mean first response", fr.Mean, 9065.0/4)
	c.f("median first response", fr.Median, (45+1800)/2.0)
	c.f("p90 first response", fr.P90, 1800+0.7*(7200-1800))
	c.f("30 s answer rate (C1 of C1, C4)", r.Response.ChatAnswer30sRate, 0.5)
	c.f("within 2 h (C5 never answered)", r.Response.Within2hRate, 0.8)
	c.f("within 24 h", r.Response.Within24hRate, 0.8)
	bp := map[string]domain.Stats{}
	for _, p := range r.Response.ByPhase {
		bp[p.Phase] = p.Stats
	}
	c.f("preparation mean first response", bp["preparation"].Mean, (20+7200)/2.0)

	// Resolution: C1 24 h; C2 106 h (its last resolution, after the reopen); C4 96 h.
	c.f("72 h rate", r.Resolution.Resolution72hRate, 0.2)
	c.eq("resolved", r.Resolution.Resolved, 3)
	c.f("mean hours", r.Resolution.HoursToResolve.Mean, (24+106+96)/3.0)
	c.f("median hours", r.Resolution.HoursToResolve.Median, 96)
	c.f("p90 hours", r.Resolution.HoursToResolve.P90, 104)
	c.eq("remedies", counts(r.Resolution.Remedies), "compensation=1/2000 exchange=1/0 refund=1/5000")
	c.eq("remedy amount", tot.RemedyAmountFen, 7000)
	c.eq("retention", sp(r.Resolution.Retention.Kept, r.Resolution.Retention.Returned), "1 1")
	c.f("retention rate", r.Resolution.Retention.Rate, 0.5)

	// Escalations, major complaints, breaches, promises.
	c.eq("escalated complaints", r.Escalations.Complaints, 2)
	c.eq("escalations by level", counts(r.Escalations.ByLevel), "supervisor=1/0 pr=1/0")
	c.eq("escalations by reason", counts(r.Escalations.ByReason), "repeat_contacts=1/0 severity=1/0")
	c.eq("major", r.Major.Total, 1)
	if len(r.Major.Items) != 1 || r.Major.Items[0].ComplaintID != e.ids["C3"] || fmt.Sprint(r.Major.Items[0].Reasons) != "[media threat]" || r.Major.Items[0].Level != "pr" {
		t.Errorf("major list: %+v", r.Major.Items)
	}
	c.eq("breaches", counts(r.Breaches), "first_response=1/0 next_response=0/0 resolution=2/0 odr=0/0 promise=0/0 follow_up=0/0")
	c.eq("promises", sp(r.Promises.Made, r.Promises.Kept, r.Promises.Broken), "2 1 1")
	c.f("promises kept rate", r.Promises.KeptRate, 0.5)

	// Repeat contacts (C2), transfers (C2 once), satisfaction.
	c.eq("repeat", r.Repeat.Repeat, 1)
	c.f("repeat rate", r.Repeat.Rate, 0.2)
	c.eq("repeat rated / first-contact rated", sp(r.Repeat.RepeatRated, r.Repeat.FirstContactRated), "1 1")
	c.f("repeat satisfaction (C2 neutral)", r.Repeat.RepeatSatisfactionRate, 0)
	c.f("first-contact satisfaction (C1)", r.Repeat.FirstContactSatisfactionRate, 1)
	c.eq("transfers", sp(r.Transfers.Transferred, r.Transfers.Transfers, counts(r.Transfers.ByCount)), "1 1 0=4/0 1=1/0")
	s := r.Satisfy
	c.eq("ever resolved / followed up / rated / satisfied / reopened", sp(s.EverResolved, s.FollowedUp, s.Rated, s.Satisfied, s.Reopened), "3 2 2 1 1")
	c.f("follow-up coverage", s.FollowUpCoverage, 2.0/3)
	c.f("satisfaction rate", s.SatisfactionRate, 0.5)
	c.f("reopen rate", s.ReopenRate, 1.0/3)

	// Team, tier, agent: the owner at report time (C2 went to a3 on transfer).
	tm := keyed(r.Teams)
	c.eq("teams", sp(tm["after_sales_online"].Complaints, tm["hotline_400"].Complaints, tm["pr"].Complaints), "3 1 1")
	tr := keyed(r.Tiers)
	c.eq("tiers", sp(tr["1"].Complaints, tr["2"].Complaints, tr["3"].Complaints, tr[""].Complaints), "2 1 1 1")
	ag := keyed(r.Agents)
	c.eq("agents", sp(ag["a1"].Complaints, ag["a3"].Complaints, ag["pr1"].Complaints, ag[""].Complaints, ag["a2"].Complaints), "2 1 1 1 0")
	c.f("a1 72 h rate", ag["a1"].Resolution72hRate, 0.5)

	// Unresolved at report time: C3 (711 h, pr1, PR) and C5 (398 h, nobody).
	c.eq("unresolved", r.Unresolved.Total, 2)
	if len(r.Unresolved.Items) == 2 {
		u3, u5 := r.Unresolved.Items[0], r.Unresolved.Items[1]
		c.eq("C3", sp(u3.ComplaintID == e.ids["C3"], u3.Owner, u3.Level, u3.AgeHours), "true pr1 pr 711")
		c.eq("C5", sp(u5.ComplaintID == e.ids["C5"], u5.Owner, u5.Level, u5.Team, u5.AgeHours), "true   after_sales_online 398")
	} else {
		t.Errorf("unresolved items: %+v", r.Unresolved.Items)
	}

	// Findings name the numbers.
	f := strings.Join(r.Findings, "\n")
	for _, want := range []string{"本季共受理投诉 5 件", "投诉量从 2 变为 5", "保湿面霜 50ml", "72小时解决时钟：2 次", "报告时仍有 2 件未解决，最久的已 711 小时", "多次进线投诉的满意率为 0.0%"} {
		if !strings.Contains(f, want) {
			t.Errorf("findings lack %q:\n%s", want, f)
		}
	}

	checkRendering(t, svc, e)
	checkBIViews(t, e)
	checkBIRole(t, e.pool)
	checkRebuild(t, e, runner)
}

var personalRE = regexp.MustCompile(`buyer-c\d|not really encrypted|O-buyer`)

func checkRendering(t *testing.T, svc *app.Service, e *env) {
	lb := domain.Labeler{Policy: e.pol}
	for _, lang := range []string{"zh-CN", "en"} {
		r, err := svc.Report(biCtx(t), app.ReportRequest{Season: 2027, ShopID: "demo-flagship", Language: lang})
		if err != nil {
			t.Fatal(err)
		}
		for _, format := range []string{render.FormatHTML, render.FormatXLSX, render.FormatCSV, render.FormatJSON} {
			file, err := render.Render(r, format, lb)
			if err != nil {
				t.Fatalf("%s %s: %v", lang, format, err)
			}
			// KESU_REPORT_SAMPLES=DIR keeps the rendered files to look at.
			if dir := os.Getenv("KESU_REPORT_SAMPLES"); dir != "" {
				if err := os.WriteFile(filepath.Join(dir, file.Name), file.Content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if format != render.FormatXLSX && personalRE.Match(file.Content) {
				t.Errorf("%s %s holds personal data: %s", lang, format, personalRE.Find(file.Content))
			}
			switch format {
			case render.FormatHTML:
				checkHTML(t, lang, file.Content)
			case render.FormatXLSX:
				checkXLSX(t, lang, file.Content)
			case render.FormatCSV:
				if !bytes.Contains(file.Content, []byte("overview,complaints,value,5\n")) || !bytes.Contains(file.Content, []byte("resolution_rates,resolution_72h_rate,value,0.2\n")) {
					t.Errorf("%s CSV lacks the overview numbers:\n%.600s", lang, file.Content)
				}
			}
		}
	}
}

func checkHTML(t *testing.T, lang string, page []byte) {
	t.Helper()
	s := string(page)
	title := map[string]string{"zh-CN": "315期间客服工作/投诉工作报告", "en": "315 season customer service and complaint report"}[lang]
	if !strings.HasPrefix(s, "<!DOCTYPE html>") || !strings.Contains(s, `<html lang="`+lang+`">`) || !strings.Contains(s, title) {
		t.Errorf("%s HTML: wrong head or title", lang)
	}
	if strings.Count(s, "<svg") < 5 {
		t.Errorf("%s HTML has %d charts, want the day, phase, channel, category, breach and satisfaction charts", lang, strings.Count(s, "<svg"))
	}
	// Self-contained: no scripts, no external stylesheets, images or fonts.
	for _, bad := range []string{"<script", "<link", "src=", "url(", "@import", "https://"} {
		if strings.Contains(s, bad) {
			t.Errorf("%s HTML is not self-contained: it holds %q", lang, bad)
		}
	}
	if strings.Count(s, "http://") != strings.Count(s, `xmlns="http://www.w3.org/2000/svg"`) {
		t.Errorf("%s HTML refers to something outside the page", lang)
	}
	for _, id := range []string{"findings", "overview", "by_day", "channels", "categories", "products", "responsiveness", "resolution", "remedies",
		"escalations_by_level", "escalations_by_reason", "major_complaints", "deadline_breaches", "promises", "repeat_contacts", "transfers",
		"satisfaction", "by_team", "by_tier", "by_agent", "unresolved"} {
		if !strings.Contains(s, `<section id="`+id+`">`) {
			t.Errorf("%s HTML lacks section %s", lang, id)
		}
	}
	if lang == "en" && (!strings.Contains(s, "Preparation") || !strings.Contains(s, "72-hour resolution rate")) {
		t.Error("en HTML is not in English")
	}
	if lang == "zh-CN" && (!strings.Contains(s, "备战") || !strings.Contains(s, "72小时解决率")) {
		t.Error("zh-CN HTML is not in Chinese")
	}
}

func checkXLSX(t *testing.T, lang string, data []byte) {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s XLSX does not open: %v", lang, err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) < 20 {
		t.Errorf("%s XLSX sheets %v", lang, sheets)
	}
	number := func(sheet, cell string) string {
		t.Helper()
		typ, err := f.GetCellType(sheet, cell)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := f.GetCellValue(sheet, cell, excelize.Options{RawCellValue: true})
		if typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
			t.Errorf("%s XLSX %s!%s = %q is a %v, want a number", lang, sheet, cell, v, typ)
		}
		return v
	}
	// overview: row 2 is complaints; by_phase: C3 is complaints of preparation.
	if v := number("overview", "C2"); v != "5" {
		t.Errorf("%s XLSX overview!C2 = %q, want 5", lang, v)
	}
	if v := number("overview", "D2"); v != "2" {
		t.Errorf("%s XLSX overview!D2 (last season) = %q, want 2", lang, v)
	}
	if v := number("by_phase", "C2"); v != "2" {
		t.Errorf("%s XLSX by_phase!C2 = %q, want 2", lang, v)
	}
	if v := number("resolution_rates", "C2"); v != "0.2" {
		t.Errorf("%s XLSX resolution_rates!C2 = %q, want 0.2", lang, v)
	}
	if v, _ := f.GetCellValue("remedies", "D4"); v == "" {
		t.Errorf("%s XLSX remedies amounts missing", lang)
	}
}

func checkBIViews(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	var erased, masked string
	var reopened bool
	var repeat, transfers int
	var level string
	if err := e.pool.QueryRow(ctx, `SELECT personal_data FROM bi.complaints WHERE complaint_id = $1`, e.ids["C3"]).Scan(&erased); err != nil {
		t.Fatal(err)
	}
	if err := e.pool.QueryRow(ctx, `SELECT personal_data, reopened, repeat_contacts, transfers, escalation_level_name FROM bi.complaints WHERE complaint_id = $1`, e.ids["C2"]).
		Scan(&masked, &reopened, &repeat, &transfers, &level); err != nil {
		t.Fatal(err)
	}
	if erased != "erased" || masked != "masked" || !reopened || repeat != 1 || transfers != 1 || level != "supervisor" {
		t.Errorf("bi.complaints: C3 %s, C2 %s reopened=%v repeat=%d transfers=%d level=%s", erased, masked, reopened, repeat, transfers, level)
	}
	// Every event of C3 that carried sealed data shows "erased" (its key is
	// gone), including those recorded before the erasure.
	rows, err := e.pool.Query(ctx, `SELECT event_type, personal_data, actor_id FROM bi.events WHERE complaint_id = $1 ORDER BY stream_seq`, e.ids["C3"])
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var typ, pd, actor string
		if err := rows.Scan(&typ, &pd, &actor); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(actor, "buyer-") {
			t.Errorf("bi.events shows the customer ref %s", actor)
		}
		got = append(got, typ+":"+pd)
	}
	if got[0] != "ComplaintFiled:erased" || len(got) != 9 {
		t.Errorf("bi.events of C3: %v", got)
	}
	var n int64
	if err := e.pool.QueryRow(ctx, `SELECT sum(complaints) FROM bi.daily_metrics WHERE shop_id = 'demo-flagship' AND season = 2027`).Scan(&n); err != nil || n != 5 {
		t.Errorf("bi.daily_metrics: %d complaints (%v), want 5", n, err)
	}
}

func checkBIRole(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS other; CREATE TABLE IF NOT EXISTS other.secrets (x int)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SET ROLE bi`); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = conn.Exec(ctx, `RESET ROLE`) }()
	for _, v := range []string{"bi.complaints", "bi.events", "bi.daily_metrics"} {
		if _, err := conn.Exec(ctx, "SELECT * FROM "+v+" LIMIT 1"); err != nil {
			t.Errorf("role bi cannot read %s: %v", v, err)
		}
	}
	for _, tab := range []string{"reporting.complaint_facts", "reporting.events", "reporting.escalations", "reporting.projection_checkpoints", "other.secrets"} {
		if _, err := conn.Exec(ctx, "SELECT * FROM "+tab+" LIMIT 1"); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("role bi reads %s: %v", tab, err)
		}
	}
	if _, err := conn.Exec(ctx, `DELETE FROM bi.complaints`); err == nil {
		t.Error("role bi may delete from bi.complaints")
	}
}

// snapshot reads the projection's tables as text, row by row.
func snapshot(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT f::text FROM reporting.complaint_facts f ORDER BY complaint_id`,
		`SELECT e::text FROM reporting.events e ORDER BY stream_seq`,
		`SELECT x::text FROM reporting.escalations x ORDER BY stream_seq`,
		`SELECT g::text FROM reporting.season_groups g ORDER BY shop_id, season, dim, key`,
		`SELECT v::text FROM reporting.season_values v ORDER BY shop_id, season, measure, phase, value`,
	} {
		rows, err := pool.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		rows.Close()
	}
	return strings.Join(out, "\n")
}

func checkRebuild(t *testing.T, e *env, live *projection.Runner) {
	t.Helper()
	before := snapshot(t, e.pool)
	if !strings.Contains(before, e.ids["C5"]) {
		t.Fatal("snapshot misses C5")
	}
	// A second runner on its own checkpoint: Rebuild needs the projection's
	// leadership, which the live runner holds.
	rb, err := projection.New(e.pool, e.js, adapters.NewProjection(domain.PolicyPlacer{Policy: e.pol}), projection.Config{
		Name: "reporting-rebuild-test", Schema: adapters.Schema, RebuildChunk: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := rb.Rebuild(ctx, adapters.NewProjection(domain.PolicyPlacer{Policy: e.pol})); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, e.pool); after != before {
		t.Fatalf("rebuilt projection differs:\nlive    %s\nrebuilt %s", before, after)
	}
	_ = live
}
