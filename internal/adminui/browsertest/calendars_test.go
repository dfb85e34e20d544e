package browsertest_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/connecthub/connecthub/calendar"
)

// TestBrowserCalendars: the calendars page lists the built-in cn with its
// years (and says when a year is missing), a calendar is created through
// the form (a bad line is refused, naming it), the job form offers the
// calendar and its preview strikes through the holiday it skips, and the
// page speaks zh-CN completely.
func TestBrowserCalendars(t *testing.T) {
	chromium := findChromium(t)
	srv := startServe(t)
	browser := newBrowser(t, chromium)
	ctx := tab(t, browser, 90*time.Second)

	loginAt(t, ctx, srv, "/admin/calendars")
	run(t, ctx, "the built-in cn calendar is listed",
		waitJS(`document.querySelector('tr[data-calendar="cn"]') !== null`),
	)
	row := `document.querySelector('tr[data-calendar="cn"]')`
	run(t, ctx, "cn is built in and covers 2025 and 2026",
		waitJS(row+`.textContent.includes("built-in") && `+row+`.textContent.includes("2025, 2026")`))
	builtin, err := calendar.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	missing := builtin[0].MissingYears(time.Now())
	var notes int
	run(t, ctx, "missing-year notes", chromedp.Evaluate(row+`.querySelectorAll("[data-missing-year]").length`, &notes))
	if notes != len(missing) {
		t.Errorf("cn shows %d missing-year notes, want %d (%v)", notes, len(missing), missing)
	}

	// Tomorrow in Shanghai becomes the plant's holiday, so the preview has
	// a slot to skip whatever day the test runs.
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	tomorrow := time.Now().In(shanghai).AddDate(0, 0, 1).Format(calendar.DateLayout)
	run(t, ctx, "a bad line is refused, naming it",
		chromedp.Navigate(srv.url+"/admin/calendars/new"),
		chromedp.WaitVisible(`#calendar-form`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name=name]`, "plant", chromedp.ByQuery),
		setText(`textarea[name=days]`, "# plant\n"+tomorrow+" holliday inventory day\n"),
		chromedp.Click(`button[data-action=save]`, chromedp.ByQuery),
		waitJS(`document.querySelector("#calendar-error") !== null && document.querySelector("#calendar-error").textContent.includes("line 2")`),
	)
	run(t, ctx, "fixed, it saves",
		setText(`textarea[name=days]`, "# plant\n"+tomorrow+" holiday inventory day\n"),
		chromedp.Click(`button[data-action=save]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/calendars/plant" && document.querySelector(".flash-success") !== null`),
		waitJS(fmt.Sprintf(`document.querySelector("textarea[name=days]").value.includes(%q)`, tomorrow+" holiday inventory day")),
	)

	run(t, ctx, "the job form previews through the calendar",
		chromedp.Navigate(srv.url+"/admin/jobs/new"),
		chromedp.WaitVisible(`#cron_expr`, chromedp.ByID),
		chromedp.SendKeys(`#cron_expr`, "0 9 * * *", chromedp.ByID),
		setText("#timezone", "Asia/Shanghai"),
		waitJS(`document.querySelectorAll("#cron-preview ol li").length === 5`),
		setSelect("#calendar", "plant"),
		setSelect("#calendar_mode", "skip_holidays"),
		// One expression reads the preview: htmx may swap it again (one
		// request per changed field) between two separate reads.
		waitJS(fmt.Sprintf(`(() => { const s = document.querySelector("#cron-preview .preview-skipped");
			return s !== null && s.textContent.includes("inventory day") && s.querySelector("s").textContent.includes(%q); })()`, tomorrow)),
	)

	run(t, ctx, "zh-CN",
		chromedp.Navigate(srv.url+"/admin/lang?to=zh-CN&next=/admin/calendars"),
		waitJS(`location.pathname === "/admin/calendars" && document.querySelector("h1").textContent.includes("日历")`),
	)
	page := html(t, ctx)
	for _, english := range []string{"Make-up workdays", "built-in", "Holidays", "New calendar"} {
		if strings.Contains(page, english) {
			t.Errorf("the zh-CN calendars page still says %q", english)
		}
	}
	if !strings.Contains(page, "内置") || !strings.Contains(page, "调休上班日") {
		t.Error("the zh-CN calendars page lacks its translations")
	}
}
