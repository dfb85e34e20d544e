package cli_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestJobRetentionFlags: job create and job update set keep_runs and
// keep_for from --keep-runs and --keep-for ("30d" as the API reads it);
// a bad value is a usage error naming the flag, and nothing is saved.
func TestJobRetentionFlags(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil)
	env := map[string]string{"CONNECTHUB_SERVER_URL": s.url, "CONNECTHUB_ADMIN_TOKEN": testToken}
	if code, _, errOut := runCLI(t, env, "", "job", "create", "--id", "k.job", "--handler", "noop", "--keep-runs", "200", "--keep-for", "30d"); code != 0 {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	check := func(runs int, keepFor time.Duration) {
		t.Helper()
		j, err := s.client.GetJob(context.Background(), "k.job")
		if err != nil {
			t.Fatal(err)
		}
		if j.KeepRuns != runs || j.KeepFor.D() != keepFor {
			t.Errorf("keep_runs %d keep_for %s, want %d and %s", j.KeepRuns, j.KeepFor, runs, keepFor)
		}
	}
	check(200, 30*24*time.Hour)
	if code, _, errOut := runCLI(t, env, "", "job", "update", "k.job", "--keep-for", "720h"); code != 0 {
		t.Fatalf("update: exit %d: %s", code, errOut)
	}
	check(200, 720*time.Hour)
	if code, _, errOut := runCLI(t, env, "", "job", "update", "k.job", "--keep-runs", "0", "--keep-for", "0"); code != 0 {
		t.Fatalf("update to no limits: exit %d: %s", code, errOut)
	}
	check(0, 0)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"job", "update", "k.job", "--keep-runs", "-1"}, "--keep-runs must be between 0"},
		{[]string{"job", "update", "k.job", "--keep-runs", "2000000"}, "--keep-runs must be between 0"},
		{[]string{"job", "update", "k.job", "--keep-for", "soon"}, `--keep-for: "soon" is not a duration`},
		{[]string{"job", "update", "k.job", "--keep-for", "-2h"}, "--keep-for: must not be negative"},
		{[]string{"job", "create", "--id", "k.bad", "--handler", "noop", "--keep-for", "3x"}, `--keep-for: "3x" is not a duration`},
		{[]string{"job", "update", "k.job", "--keep-runs", "many"}, `invalid argument "many" for "--keep-runs"`},
	} {
		code, _, errOut := runCLI(t, env, "", tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 naming %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
	check(0, 0)
	if _, err := s.client.GetJob(context.Background(), "k.bad"); err == nil {
		t.Errorf("k.bad was created despite its bad --keep-for")
	}
}
