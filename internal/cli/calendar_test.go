package cli_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestCalendarsEndToEnd drives calendars through a real serve: the
// built-in cn is there at start, a calendar is created and refused when
// bad, a job that names it is planned around its holiday, the calendar
// cannot be deleted under the job, and the cron preview lists what it
// skips, over the API and the CLI.
func TestCalendarsEndToEnd(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil)
	env := map[string]string{"CONNECTHUB_SERVER_URL": s.url, "CONNECTHUB_ADMIN_TOKEN": s.token}

	code, body := s.do("GET", "/api/v1/calendars/cn", "")
	if code != http.StatusOK || !strings.Contains(body, `"builtin":true`) || !strings.Contains(body, `"years":[2025,2026]`) {
		t.Fatalf("built-in cn: %d %s", code, body)
	}

	plant := `{"description":"plant","days":[{"date":"2031-03-17","kind":"holiday","name":"inventory day"}]}`
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"create", "POST", "/api/v1/calendars", `{"name":"plant","days":[]}`, http.StatusCreated, `"name":"plant"`},
		{"create twice", "POST", "/api/v1/calendars", `{"name":"plant","days":[]}`, http.StatusConflict, "calendar_exists"},
		{"replace", "PUT", "/api/v1/calendars/plant", plant, http.StatusOK, `"jobs_replanned":0`},
		{"bad date", "PUT", "/api/v1/calendars/plant", `{"days":[{"date":"2031-02-30","kind":"holiday"}]}`, http.StatusBadRequest, `days[0].date`},
		{"unknown field", "PUT", "/api/v1/calendars/plant", `{"holidays":[]}`, http.StatusBadRequest, `unknown field \"holidays\"`},
		{"name mismatch", "PUT", "/api/v1/calendars/plant", `{"name":"other","days":[]}`, http.StatusBadRequest, `"field":"name"`},
		{"missing", "GET", "/api/v1/calendars/nope", "", http.StatusNotFound, "calendar_not_found"},
		{"job with an unknown calendar", "POST", "/api/v1/jobs",
			`{"id":"bad-cal","handler":"noop","cron_expr":"0 9 * * *","timezone":"Asia/Shanghai","calendar":"nope"}`,
			http.StatusBadRequest, `"field":"calendar"`},
		{"job with a bad mode", "POST", "/api/v1/jobs",
			`{"id":"bad-mode","handler":"noop","cron_expr":"0 9 * * *","calendar":"plant","calendar_mode":"weekdays"}`,
			http.StatusBadRequest, `"field":"calendar_mode"`},
		{"preview with an unknown calendar", "GET", "/api/v1/cron/next?expr=0+9+*+*+*&calendar=nope", "", http.StatusBadRequest, `"field":"calendar"`},
	} {
		code, body := s.do(tc.method, tc.path, tc.body)
		if code != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s; want %d with %s", tc.name, code, body, tc.status, tc.want)
		}
	}

	job := s.createJob(`{"id":"inventory-sync","handler":"noop","cron_expr":"0 9 * * *","timezone":"Asia/Shanghai","calendar":"plant","calendar_mode":"skip_holidays"}`)
	if job.Calendar != "plant" || job.CalendarMode != "skip_holidays" {
		t.Fatalf("saved job calendar %q %q", job.Calendar, job.CalendarMode)
	}
	code, body = s.do("DELETE", "/api/v1/calendars/plant", "")
	if code != http.StatusConflict || !strings.Contains(body, "inventory-sync") {
		t.Errorf("delete under a job: %d %s", code, body)
	}

	q := url.Values{"expr": {"0 9 * * *"}, "tz": {"Asia/Shanghai"}, "n": {"2"}, "after": {"2026-02-13T10:00:00+08:00"},
		"calendar": {"cn"}, "calendar_mode": {"workdays"}}
	code, body = s.do("GET", "/api/v1/cron/next?"+q.Encode(), "")
	var preview struct {
		Times   []string `json:"times"`
		Skipped []struct{ Time, Reason string }
	}
	if err := json.Unmarshal([]byte(body), &preview); code != http.StatusOK || err != nil {
		t.Fatalf("preview: %d %s", code, body)
	}
	if strings.Join(preview.Times, " ") != "2026-02-14T09:00:00+08:00 2026-02-24T09:00:00+08:00" ||
		len(preview.Skipped) != 9 || preview.Skipped[0].Reason != "春节 / Spring Festival" {
		t.Errorf("preview over the Spring Festival: %s", body)
	}

	code, out, errOut := runCLI(t, env, "", "calendar", "list")
	if code != 0 || !strings.Contains(out, "cn") || !strings.Contains(out, "2025,2026") || !strings.Contains(out, "plant") {
		t.Errorf("calendar list: %d %q %q", code, out, errOut)
	}
	code, out, errOut = runCLI(t, env, "", "cron", "next", "0 9 * * *", "--tz", "Asia/Shanghai", "-n", "1",
		"--after", "2026-02-14T10:00:00+08:00", "--calendar", "cn")
	if code != 0 || strings.TrimSpace(out) != "2026-02-24T09:00:00+08:00" || !strings.Contains(errOut, "skipped on the way (9)") {
		t.Errorf("cron next --calendar: %d %q %q", code, out, errOut)
	}
	code, _, errOut = runCLI(t, env, "", "calendar", "delete", "plant")
	if code == 0 || !strings.Contains(errOut, "inventory-sync") {
		t.Errorf("calendar delete under a job: %d %q", code, errOut)
	}
}
