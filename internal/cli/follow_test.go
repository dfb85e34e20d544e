package cli_test

import (
	"regexp"
	"strings"
	"testing"
)

// TestFollowTellsWhereAndHowARunEnded runs jobs with -f as a person does:
// the start names the run and its node, the end its status, message and
// error, once, and the times are in the job's timezone with their offset.
func TestFollowTellsWhereAndHowARunEnded(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil)
	env := map[string]string{"CONNECTHUB_SERVER_URL": s.url, "CONNECTHUB_ADMIN_TOKEN": testToken}
	must := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, env, "", args...)
		if code != 0 {
			t.Fatalf("connecthub %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}

	// Empty lists say so, and what to do.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"job", "list"}, "no jobs yet: create one with `connecthub job create"},
		{[]string{"job", "list", "--handler", "noop"}, "no jobs match these filters"},
		{[]string{"run", "list"}, "no runs yet"},
		{[]string{"run", "list", "--job", "x"}, "job x has no runs yet"},
		{[]string{"run", "list", "--status", "FAILURE"}, "no runs match these filters"},
		{[]string{"token", "list"}, "no API tokens yet"},
	} {
		if out := must(tc.args...); !strings.HasPrefix(out, tc.want) {
			t.Errorf("connecthub %v on an empty server: %q, want %q", tc.args, out, tc.want)
		}
	}

	must("job", "create", "--id", "f.sleep", "--handler", "sleep", "--config", `{"seconds":0.1}`, "--tz", "Asia/Kolkata")
	code, out, errOut := runCLI(t, env, "", "job", "run", "f.sleep", "-f")
	if code != 0 {
		t.Fatalf("job run -f: exit %d\n%s%s", code, out, errOut)
	}
	started := regexp.MustCompile(`run \S+ started on node \S+ \(attempt 1/1\)\n`).FindStringIndex(errOut)
	ended := strings.Index(errOut, "ended SUCCESS after ")
	if started == nil || ended < started[1] || strings.Count(errOut, "ended") != 1 || !strings.Contains(errOut, " +05:30\n") {
		t.Errorf("job run -f, stderr: want the node first, the end once, in +05:30:\n%s", errOut)
	}
	if !strings.Contains(errOut, "message: ") {
		t.Errorf("job run -f does not print the run's message:\n%s", errOut)
	}
	if strings.Contains(errOut, "connecthub:") {
		t.Errorf("a successful follow printed an error line:\n%s", errOut)
	}

	// A failure: its error, and no second line saying it ended.
	must("job", "create", "--id", "f.fail", "--handler", "httpcall", "--config", `{"url":"http://127.0.0.1:1/"}`)
	code, _, errOut = runCLI(t, env, "", "job", "run", "f.fail", "-f")
	if code != 1 || !strings.Contains(errOut, "ended FAILURE") || !strings.Contains(errOut, "error: ") || !strings.Contains(errOut, "127.0.0.1:1") {
		t.Errorf("a failing run: exit %d, stderr:\n%s", code, errOut)
	}
	if strings.Count(errOut, "FAILURE") != 1 || strings.Contains(errOut, "connecthub:") {
		t.Errorf("the end of a failing run is told more than once:\n%s", errOut)
	}

	// Tables and logs: the job's timezone with its offset, never a bare Z.
	out = must("run", "list", "--job", "f.sleep")
	if !regexp.MustCompile(`\d\d:\d\d:\d\d \+05:30`).MatchString(out) {
		t.Errorf("run list does not show the job's offset:\n%s", out)
	}
	id := strings.Fields(strings.Split(out, "\n")[1])[0]
	out = must("run", "get", id)
	for _, row := range []string{"scheduled for", "started", "finished"} {
		if !regexp.MustCompile(row + `:\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+05:30`).MatchString(out) {
			t.Errorf("run get: %s is not in the job's timezone with its offset:\n%s", row, out)
		}
	}
	out = must("run", "logs", id)
	if out != "" && !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \+05:30 `).MatchString(out) {
		t.Errorf("run logs: lines not in the job's timezone:\n%s", out)
	}
	if out = must("job", "get", "f.sleep"); !strings.Contains(out, "0s (no timeout)") {
		t.Errorf("job get does not explain a zero timeout:\n%s", out)
	}
	must("job", "update", "f.sleep", "--retry-backoff", "30s", "--misfire-window", "2h", "--max-attempts", "3")
	if out = must("job", "get", "f.sleep"); !strings.Contains(out, "retry backoff:  30s") || !strings.Contains(out, "once (window 2h0m0s)") || !strings.Contains(out, "max attempts:   3") {
		t.Errorf("job update with the new flags:\n%s", out)
	}
}
