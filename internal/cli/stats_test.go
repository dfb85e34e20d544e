package cli_test

import (
	"database/sql"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/testenv"
)

// TestStatsRebuild breaks the maintained counts behind the store's back,
// as a manual edit of the database could, and repairs them with the
// command.
func TestStatsRebuild(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := openDataDir(t, dir)
	j := testenv.Job(t, st, "job", "noop", nil)
	now := time.Now().UTC()
	var runs []*connecthub.Run
	for i, status := range []connecthub.RunStatus{connecthub.StatusSuccess, connecthub.StatusSuccess, connecthub.StatusFailure} {
		at := now.Add(-time.Duration(i) * time.Minute)
		r := connecthub.NewRun(j, connecthub.TriggerManual, at, at, "")
		r.Status, r.StartedAt, r.FinishedAt = status, &at, &at
		runs = append(runs, r)
	}
	if err := st.RunInsert(t.Context(), runs); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "connecthub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE run_counts SET n = n + 40; DELETE FROM run_counts_hourly`); err != nil {
		t.Fatal(err)
	}
	if s, err := st.Stats(t.Context(), now); err != nil || s.Runs[connecthub.StatusSuccess] == 2 {
		t.Fatalf("the counts were not broken: %v, %v", s, err)
	}

	code, stdout, stderr := runCLI(t, map[string]string{"CONNECTHUB_DATA_DIR": dir}, "", "stats", "rebuild")
	if code != 0 || !strings.Contains(stdout, "3 finished runs (SUCCESS 2, FAILURE 1, CANCELED 0, SKIPPED 0)") {
		t.Fatalf("stats rebuild: exit %d\n%s%s", code, stdout, stderr)
	}
	s, err := st.Stats(t.Context(), now)
	if err != nil {
		t.Fatal(err)
	}
	for status, want := range map[connecthub.RunStatus]int64{connecthub.StatusSuccess: 2, connecthub.StatusFailure: 1} {
		if s.Runs[status] != want || s.Runs24h[status] != want {
			t.Errorf("%s: %d in all, %d in 24 h; want %d", status, s.Runs[status], s.Runs24h[status], want)
		}
	}

	if code, _, stderr := runCLI(t, map[string]string{"CONNECTHUB_DATA_DIR": dir}, "", "stats", "rebuild", "extra"); code != 2 || stderr == "" {
		t.Errorf("stats rebuild extra: exit %d, %q; want a usage error", code, stderr)
	}
}

// TestJobShowsLastRun checks the last run and the durations in `job get`
// and `job list`, for people and in JSON.
func TestJobShowsLastRun(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil)
	env := map[string]string{"CONNECTHUB_SERVER_URL": s.url, "CONNECTHUB_ADMIN_TOKEN": testToken}
	run := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, env, "", args...)
		if code != 0 {
			t.Fatalf("connecthub %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	s.createJob(`{"id":"stats.demo","handler":"noop"}`)
	if out := run("job", "get", "stats.demo"); !strings.Contains(out, "last finished run:  -") ||
		!strings.Contains(out, "durations:          - (no successful run yet)") {
		t.Errorf("job get before any run:\n%s", out)
	}
	r := s.waitStatus(s.runNow("stats.demo").ID, connecthub.StatusSuccess)

	out := run("job", "get", "stats.demo")
	if !strings.Contains(out, "last finished run:  "+r.ID+" SUCCESS (manual) finished ") ||
		!regexp.MustCompile(`durations:\s+median \S+, p95 \S+ \(last 1 successful runs\)`).MatchString(out) {
		t.Errorf("job get:\n%s", out)
	}
	if out := run("job", "list"); !regexp.MustCompile(`LAST RUN\n.*stats\.demo.*\sSUCCESS\n`).MatchString(out) {
		t.Errorf("job list:\n%s", out)
	}
	var j connecthub.Job
	if err := json.Unmarshal([]byte(run("job", "get", "stats.demo", "--json")), &j); err != nil ||
		j.LastRun == nil || j.LastRun.ID != r.ID || j.LastRun.Status != connecthub.StatusSuccess ||
		j.LastRun.Trigger != connecthub.TriggerManual || j.LastRun.FinishedAt == nil || j.Durations == nil || j.Durations.Runs != 1 {
		t.Errorf("job get --json: %v, last_run %+v, durations %+v", err, j.LastRun, j.Durations)
	}
}

// TestStatsEndpoint checks /api/v1/stats on a real server: the finished run
// counts in all and in the 24-hour window, from the maintained counts.
func TestStatsEndpoint(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil)
	s.createJob(`{"id":"stats.api","handler":"noop"}`)
	s.waitStatus(s.runNow("stats.api").ID, connecthub.StatusSuccess)
	code, body := s.do("GET", "/api/v1/stats", "")
	var st connecthub.Stats
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("GET /api/v1/stats: %d %v\n%s", code, err, body)
	}
	if st.Runs[connecthub.StatusSuccess] != 1 || st.Runs24h[connecthub.StatusSuccess] != 1 || st.Runs24h[connecthub.StatusFailure] != 0 ||
		st.Jobs != 1 || st.ActiveNodes != 1 || st.Nodes[connecthub.NodeActive] != 1 || time.Since(st.Since24h) > 24*time.Hour {
		t.Errorf("stats = %s", body)
	}
	if !strings.Contains(body, `"runs_24h":{"CANCELED":0,"FAILURE":0,"SKIPPED":0,"SUCCESS":1}`) {
		t.Errorf("runs_24h is not every finished status: %s", body)
	}
}
