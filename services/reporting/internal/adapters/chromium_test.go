package adapters_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/css"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgconn"

	reportingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/reporting/v1"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/pgtest"
	"github.com/kesu315/kesu/services/kit/projection"
	"github.com/kesu315/kesu/services/reporting/internal/adapters"
	"github.com/kesu315/kesu/services/reporting/internal/domain"
)

// chromiumNames are the headless Chromium binaries the test looks for, in
// order; scripts/ensure-chromium.sh looks for the same ones.
var chromiumNames = []string{"chromium-headless-shell", "headless_shell", "headless-shell", "chromium", "chromium-browser",
	"google-chrome", "google-chrome-stable", "chrome"}

// chromiumPath finds a headless Chromium: KESU_CHROMIUM when set, else the
// first of chromiumNames on PATH. "" means none.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KESU_CHROMIUM"); p != "" {
		found, err := exec.LookPath(p)
		if err != nil {
			t.Fatalf("KESU_CHROMIUM=%q: %v", p, err)
		}
		return found
	}
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// startChromium starts one headless browser for the test and returns its
// context; each chromedp.NewContext of it is a tab.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	bin := chromiumPath(t)
	if bin == "" {
		msg := fmt.Sprintf("no headless Chromium found (looked for KESU_CHROMIUM and %s); run scripts/ensure-chromium.sh", strings.Join(chromiumNames, ", "))
		if os.Getenv("KESU_REQUIRE_CHROMIUM") == "1" {
			t.Fatal(msg + " (KESU_REQUIRE_CHROMIUM=1)")
		}
		t.Skip(msg)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		// Its own profile, removed with the test (the browser has exited by
		// then: cleanups run last-registered first).
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to start its sandbox as root (CI containers, this
		// dev machine); the page is our own file, not content from the web.
		opts = append(opts, chromedp.NoSandbox)
	}
	// The timeout only stops a hung browser; nothing is timed. Starting
	// Chromium and rendering, printing and capturing two reports takes
	// seconds, minutes on a loaded machine.
	ctx, cancelTimeout := context.WithTimeout(context.Background(), 3*time.Minute)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Logf("browser %s", bin)
	return bctx
}

// pageWatch records what a tab reports while it loads, prints and captures a
// page: console messages, uncaught exceptions, browser log entries, network
// requests and failed loads. Its event method runs on the tab's event loop.
type pageWatch struct {
	page string // the one URL the page may load: itself

	mu       sync.Mutex
	urls     map[network.RequestID]string
	requests []string
	problems []string
	notes    []string
}

func (w *pageWatch) event(ev any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var args []string
		for _, a := range ev.Args {
			if len(a.Value) > 0 {
				args = append(args, string(a.Value))
			} else {
				args = append(args, a.Description)
			}
		}
		msg := fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " "))
		switch ev.Type {
		case runtime.ConsoleAPICalledTypeError, runtime.ConsoleAPICalledTypeWarning, runtime.ConsoleAPICalledTypeAssert:
			w.problems = append(w.problems, msg)
		default:
			w.notes = append(w.notes, msg)
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		w.problems = append(w.problems, fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
	case *log.EventEntryAdded:
		msg := fmt.Sprintf("browser log %s/%s: %s %s", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL)
		if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
			w.problems = append(w.problems, msg)
		} else {
			w.notes = append(w.notes, msg)
		}
	case *network.EventRequestWillBeSent:
		u := ev.Request.URL
		w.urls[ev.RequestID] = u
		w.requests = append(w.requests, u)
		if u != w.page {
			w.problems = append(w.problems, fmt.Sprintf("request for %.200s: the page must be self-contained", u))
		}
	case *network.EventLoadingFailed:
		w.problems = append(w.problems, fmt.Sprintf("loading %.200s failed: %s %s", w.urls[ev.RequestID], ev.ErrorText, ev.BlockedReason))
	}
}

func (w *pageWatch) result() (requests, problems, notes []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.requests), slices.Clone(w.problems), slices.Clone(w.notes)
}

// openTab opens a tab that is watched from its first event on and loads the
// file in it. A failed load fails the test.
func openTab(t *testing.T, browser context.Context, file string) (context.Context, *pageWatch) {
	t.Helper()
	page := (&url.URL{Scheme: "file", Path: file}).String()
	w := &pageWatch{page: page, urls: map[network.RequestID]string{}}
	tab, cancel := chromedp.NewContext(browser, chromedp.WithListener(w.event))
	t.Cleanup(cancel)
	if err := chromedp.Do(tab, chromedp.Navigate(page)); err != nil {
		t.Fatalf("loading %s: %v", page, err)
	}
	return tab, w
}

// layout is what the browser laid out, read in the page after the load.
type layout struct {
	Title    string `json:"title"`
	Lang     string `json:"lang"`
	Ready    string `json:"ready"`
	Text     string `json:"text"`
	H1       string `json:"h1"`
	Sections []struct {
		ID      string  `json:"id"`
		Heading string  `json:"heading"`
		W       float64 `json:"w"`
		H       float64 `json:"h"`
	} `json:"sections"`
	SVGs []struct {
		W     float64 `json:"w"`     // the chart's box on the page
		H     float64 `json:"h"`     //
		DrawW float64 `json:"drawW"` // what is drawn inside it
		DrawH float64 `json:"drawH"` //
		Bars  int     `json:"bars"`  // rects with an area
		Texts int     `json:"texts"` // labels with an area
	} `json:"svgs"`
	PageW float64 `json:"pageW"`
	PageH float64 `json:"pageH"`
}

const readLayout = `(() => {
	const box = e => { const b = e.getBoundingClientRect(); return {w: b.width, h: b.height}; };
	const drawn = e => { const b = e.getBBox(); return b.width > 0 && b.height > 0; };
	return {
		title: document.title,
		lang: document.documentElement.lang,
		ready: document.readyState,
		text: document.body.innerText,
		h1: document.querySelector('h1') ? document.querySelector('h1').innerText : '',
		sections: [...document.querySelectorAll('section')].map(s => {
			const h = s.querySelector('h2');
			return {id: s.id, heading: h ? h.innerText : '', ...(h ? box(h) : {w: 0, h: 0})};
		}),
		svgs: [...document.querySelectorAll('svg')].map(s => {
			const b = s.getBBox();
			return {...box(s), drawW: b.width, drawH: b.height,
				bars: [...s.querySelectorAll('rect')].filter(drawn).length,
				texts: [...s.querySelectorAll('text')].filter(drawn).length};
		}),
		pageW: document.documentElement.scrollWidth,
		pageH: document.documentElement.scrollHeight,
	};
})()`

// hanGlyphsDiffer draws two different Chinese characters in the body's font
// and compares the pixels: without a CJK font both come out as the same box
// (tofu), or as nothing.
const hanGlyphsDiffer = `(() => {
	const c = document.createElement('canvas');
	c.width = 64; c.height = 64;
	const g = c.getContext('2d', {willReadFrequently: true});
	const draw = ch => {
		g.clearRect(0, 0, 64, 64);
		g.font = '48px ' + getComputedStyle(document.body).fontFamily;
		g.fillText(ch, 4, 52);
		return g.getImageData(0, 0, 64, 64).data.join(',');
	};
	const a = draw('投'), b = draw('诉'), blank = (g.clearRect(0, 0, 64, 64), g.getImageData(0, 0, 64, 64).data.join(','));
	return a !== b && a !== blank && b !== blank;
})()`

// heading is a section heading of the report in both languages; id is the
// section's id ("" for the chart sections).
type heading struct{ id, zh, en string }

// reportHeadings are the report's sections in page order: the charts, then
// the tables.
var reportHeadings = []heading{
	{"", "每日投诉量", "Complaints by day"},
	{"", "分阶段投诉量", "Complaints by phase"},
	{"", "渠道", "Channels"},
	{"", "类别", "Categories"},
	{"", "超时（按时钟）", "Deadline breaches by clock"},
	{"", "满意率：多次进线与首次进线", "Satisfaction: repeat against first contact"},
	{"findings", "主要发现", "Findings"},
	{"overview", "总览", "Overview"},
	{"by_phase", "分阶段", "By phase"},
	{"by_day", "每日投诉量", "Complaints by day"},
	{"channels", "渠道", "Channels"},
	{"categories", "类别", "Categories"},
	{"products", "投诉最多的商品", "Products with the most complaints"},
	{"responsiveness", "响应", "Responsiveness"},
	{"response_rates", "响应达标率", "Response rates"},
	{"resolution", "解决", "Resolution"},
	{"resolution_rates", "解决率与挽留", "Resolution rates and retention"},
	{"remedies", "补救（按类型）", "Remedies by kind"},
	{"escalations_by_level", "升级（按层级）", "Escalations by level"},
	{"escalations_by_reason", "升级（按原因）", "Escalations by reason"},
	{"escalation_level_now", "当前升级层级", "Current escalation level"},
	{"major_complaints", "重大投诉", "Major complaints"},
	{"deadline_breaches", "超时（按时钟）", "Deadline breaches by clock"},
	{"promises", "承诺兑现", "Promises"},
	{"repeat_contacts", "多次进线", "Repeat contacts"},
	{"transfers", "转派（踢皮球）", "Transfers"},
	{"satisfaction", "满意度", "Satisfaction"},
	{"by_team", "按组别", "By team"},
	{"by_tier", "按层级", "By tier"},
	{"by_agent", "按坐席", "By agent"},
	{"unresolved", "未解决纠纷", "Unresolved disputes"},
}

// Issue #7: the aftermath report's HTML, exported exactly as `kesuctl report
// --format html` gets it (ExportSeasonReport of the running service), loads
// in headless Chromium without errors, with nothing fetched from outside the
// page, reads as a report in both languages, and prints. The screenshots and
// PDFs are kept with `go test -artifacts -outputdir DIR`.
func TestReportHTMLRendersInChromium(t *testing.T) {
	browser := startChromium(t)

	t.Run("the watch sees problems", func(t *testing.T) {
		// A page with every kind of problem the report is checked for: a watch
		// that saw nothing here would make the report's check pass vacuously.
		file := filepath.Join(t.TempDir(), "bad.html")
		bad := `<!DOCTYPE html><html><head><title>bad</title><link rel="stylesheet" href="http://127.0.0.1:9/x.css"></head>` +
			`<body><img src="http://127.0.0.1:9/x.png"><script>console.warn("w"); console.error("e"); undefinedFunction();</script></body></html>`
		if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		_, w := openTab(t, browser, file)
		_, problems, _ := w.result()
		all := strings.Join(problems, "\n")
		for _, want := range []string{"console.warning", "console.error", "uncaught exception", "request for http://127.0.0.1:9/x.css", "request for http://127.0.0.1:9/x.png", "failed"} {
			if !strings.Contains(all, want) {
				t.Errorf("the watch missed %q; it saw:\n%s", want, all)
			}
		}
	})

	e := newEnv(t)
	seedSeason(t, e)
	// The service reports at the fixture's report time (its simulated clock
	// starts there), so the ages of the open complaints are the fixture's.
	client := startServiceWith(t, e.natsURL, pgtest.URL(e.pool), map[string]string{
		clock.EnvStart: reportTime.Format(time.RFC3339), clock.EnvEpoch: time.Now().UTC().Format(time.RFC3339Nano),
	})
	waitForService(t, e)

	for _, lang := range []string{"zh-CN", "en"} {
		t.Run(lang, func(t *testing.T) {
			res, err := client.ExportSeasonReport(as(t, auth.Identity{Subject: "analyst", Role: auth.RoleBI}), &reportingv1.ExportSeasonReportRequest{
				Season: 2027, ShopId: "demo-flagship", Format: reportingv1.ReportFormat_REPORT_FORMAT_HTML, Language: lang,
			})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.ArtifactDir()
			file := filepath.Join(dir, filepath.Base(res.GetFileName()))
			if err := os.WriteFile(file, res.GetContent(), 0o644); err != nil {
				t.Fatal(err)
			}
			tab, w := openTab(t, browser, file)
			checkLayout(t, tab, lang)

			shot, err := chromedp.Run(tab, chromedp.FullScreenshot(100)) // 100: PNG
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			if cfg, err := png.DecodeConfig(bytes.NewReader(shot)); err != nil || cfg.Width == 0 || cfg.Height == 0 {
				t.Errorf("screenshot is not a PNG with a size: %v %+v", err, cfg)
			}
			keep(t, dir, strings.TrimSuffix(filepath.Base(file), ".html")+".png", shot)

			pdf, err := chromedp.Run(tab, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4), chromedp.PDFPrintBackground()))
			if err != nil {
				t.Fatalf("printing: %v", err)
			}
			if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
				t.Errorf("printing gave %d bytes that are not a PDF", len(pdf))
			}
			keep(t, dir, strings.TrimSuffix(filepath.Base(file), ".html")+".pdf", pdf)
			checkPrintWidth(t, tab, lang)

			// Checked last, so that printing and capturing are watched too.
			requests, problems, notes := w.result()
			for _, p := range problems {
				t.Errorf("%s: %s", lang, p)
			}
			for _, n := range notes {
				t.Logf("%s: %s", lang, n)
			}
			if !slices.Contains(requests, w.page) {
				t.Errorf("the watch did not see the page's own request %s (saw %v): it would not see others either", w.page, requests)
			}
		})
	}
}

// waitForService waits until the service's own projection has applied the
// whole fixture season.
func waitForService(t *testing.T, e *env) {
	t.Helper()
	// A runner that is never run only reads the service's checkpoint.
	r, err := projection.New(e.pool, e.js, adapters.NewProjection(domain.PolicyPlacer{Policy: e.pol}), projection.Config{
		Name: adapters.ProjectionName, Schema: adapters.Schema,
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		cp, err := r.Checkpoint(context.Background())
		var pgErr *pgconn.PgError
		switch {
		case err == nil && cp >= e.lastSeq:
			return
		case errors.As(err, &pgErr) && pgErr.Code == "42P01":
			// The runner creates its checkpoint table when it starts.
		case err != nil:
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service's projection is at %d (%v), want %d", cp, err, e.lastSeq)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// a4Width is the width inside PrintToPDF's default 1 cm margins on A4
// portrait (8.27 in at 96 CSS px an inch, less 2 cm), in CSS px.
const a4Width = 718

// checkPrintWidth lays the page out for print at the width of A4 portrait
// and checks that nothing is cut off. Chromium shrinks a printed page whose
// content is wider than the paper by at most 1.5 and cuts off the rest (a
// 1 200 px and a 2 000 px wide page both print at 1/1.5, the right part of
// the latter gone): the content may be at most 1.5 times the paper's width.
func checkPrintWidth(t *testing.T, tab context.Context, lang string) {
	t.Helper()
	if _, err := chromedp.Call(tab, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab, chromedp.EmulateViewport(a4Width, 1000)); err != nil {
		t.Fatal(err)
	}
	w, err := chromedp.Run(tab, chromedp.Evaluate[float64](`document.documentElement.scrollWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if w > 1.5*a4Width {
		t.Errorf("%s: printed, the page is %.0f px wide: on A4 portrait (%d px) Chromium cuts off what is beyond %.0f px", lang, w, a4Width, 1.5*a4Width)
	}
	t.Logf("%s: printed on A4 portrait the content is %.0f px wide, printed at %.0f%%", lang, w, 100*min(1, a4Width/w))
}

func keep(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("kept %s (%d bytes)", path, len(data))
}

// checkLayout checks what a reader sees: the title, every section under its
// heading in the report's language, each chart drawn with a size, the
// fixture's numbers in the text, and Chinese characters as glyphs.
func checkLayout(t *testing.T, tab context.Context, lang string) {
	t.Helper()
	l, err := chromedp.Run(tab, chromedp.Evaluate[layout](readLayout))
	if err != nil {
		t.Fatalf("reading the layout: %v", err)
	}
	zh := lang == "zh-CN"
	pick := func(zhText, enText string) string {
		if zh {
			return zhText
		}
		return enText
	}
	title := pick("315期间客服工作/投诉工作报告 · 2027 年 315 客诉保障季", "315 season customer service and complaint report · 2027 315 season")
	if l.Title != title || l.Lang != lang || l.Ready != "complete" {
		t.Errorf("%s: title %q lang %q ready %q, want %q %q complete", lang, l.Title, l.Lang, l.Ready, title, lang)
	}
	if want := pick("315期间客服工作/投诉工作报告", "315 season customer service and complaint report"); l.H1 != want {
		t.Errorf("%s: h1 %q, want %q", lang, l.H1, want)
	}

	var got, want []string
	for _, s := range l.Sections {
		got = append(got, s.ID+" "+s.Heading)
		if s.W <= 0 || s.H <= 0 {
			t.Errorf("%s: heading %q of section %q is laid out %vx%v", lang, s.Heading, s.ID, s.W, s.H)
		}
	}
	for _, h := range reportHeadings {
		want = append(want, h.id+" "+pick(h.zh, h.en))
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: sections\n got %q\nwant %q", lang, got, want)
	}

	// The day, phase, channel, category, breach and satisfaction charts.
	if len(l.SVGs) != 6 {
		t.Errorf("%s: %d charts, want 6", lang, len(l.SVGs))
	}
	for i, s := range l.SVGs {
		if s.W <= 0 || s.H <= 0 || s.DrawW <= 0 || s.DrawH <= 0 || s.Bars == 0 || s.Texts == 0 {
			t.Errorf("%s: chart %d (%s) is laid out %vx%v, draws %vx%v, %d bars and %d labels with an area",
				lang, i+1, reportHeadings[min(i, len(reportHeadings)-1)].en, s.W, s.H, s.DrawW, s.DrawH, s.Bars, s.Texts)
		}
	}

	// Numbers of the fixture (report_test.go checks them one by one): 5
	// complaints, the oldest open one 711 hours old, 20 % resolved in 72 h.
	for _, want := range []string{
		pick("本季共受理投诉 5 件", "5 complaints this season"),
		pick("报告时仍有 2 件未解决，最久的已 711 小时", "2 disputes are still open at report time; the oldest is 711 hours old"),
		pick("72小时解决率", "72-hour resolution") + "\n20.0%",
	} {
		if !strings.Contains(l.Text, want) {
			t.Errorf("%s: the page does not show %q; it shows:\n%.1500s", lang, want, l.Text)
		}
	}
	t.Logf("%s: page %vx%v px, %d sections, %d charts", lang, l.PageW, l.PageH, len(l.Sections), len(l.SVGs))

	nodes, err := chromedp.Run(tab, chromedp.Nodes(chromedp.CSS("h1")))
	if err == nil && len(nodes) > 0 {
		fonts, err := chromedp.Call(tab, css.GetPlatformFontsForNode, css.GetPlatformFontsForNodeParams{NodeID: nodes[0].NodeID})
		if err == nil {
			var used []string
			for _, f := range fonts.Fonts {
				used = append(used, fmt.Sprintf("%s (%.0f glyphs)", f.FamilyName, f.GlyphCount))
			}
			t.Logf("%s: the title is set in %s", lang, strings.Join(used, ", "))
		}
	}
	if zh {
		ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](hanGlyphsDiffer))
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Error("zh-CN: Chinese characters are drawn as boxes (no CJK font): install fonts-noto-cjk (scripts/ensure-chromium.sh)")
		}
	}
}
