package cli_test

import (
	"database/sql"
	"path/filepath"
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
