package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/cli"
)

// runCLI runs one connecthub command in-process and returns its exit code
// and output.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut syncBuffer
	code := cli.Run(context.Background(), cli.Env{
		Args:   args,
		Getenv: func(k string) string { return env[k] },
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errOut,
		DotEnv: filepath.Join(t.TempDir(), "none.env"),
	})
	return code, out.String(), errOut.String()
}

func TestCLIClientCommands(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil)
	env := map[string]string{"CONNECTHUB_SERVER_URL": s.url, "CONNECTHUB_ADMIN_TOKEN": testToken}
	mustRun := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, env, stdin, args...)
		if code != 0 {
			t.Fatalf("connecthub %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}

	out := mustRun("", "job", "create", "--id", "cli.demo", "--handler", "sleep", "--config", `{"seconds":0.2}`, "--cron", "0 2 * * *", "--tz", "Europe/London")
	if !strings.Contains(out, "cli.demo") || !strings.Contains(out, "Europe/London") {
		t.Errorf("create output:\n%s", out)
	}
	mustRun(`{"id":"cli.file","handler":"noop"}`, "job", "create", "--file", "-")
	out = mustRun("", "job", "list")
	if !strings.Contains(out, "cli.demo") || !strings.Contains(out, "cli.file") || !strings.HasPrefix(out, "ID") {
		t.Errorf("list output:\n%s", out)
	}
	var page struct{ Jobs []connecthub.Job }
	if err := json.Unmarshal([]byte(mustRun("", "job", "list", "--json")), &page); err != nil || len(page.Jobs) != 2 {
		t.Errorf("list --json: %v %+v", err, page)
	}
	mustRun("", "job", "disable", "cli.demo")
	mustRun("", "job", "enable", "cli.demo")
	mustRun("", "job", "update", "cli.demo", "--description", "from the CLI")
	var j connecthub.Job
	if err := json.Unmarshal([]byte(mustRun("", "job", "get", "cli.demo", "--json")), &j); err != nil || j.Description != "from the CLI" || !j.Enabled {
		t.Errorf("get --json: %v %+v", err, j)
	}

	// run now and follow its log to the end.
	code, out, errOut := runCLI(t, env, "", "job", "run", "cli.demo", "-f")
	if code != 0 || !strings.Contains(errOut, "SUCCESS") {
		t.Fatalf("job run -f: exit %d\n%s\n%s", code, out, errOut)
	}
	var runs struct{ Runs []connecthub.Run }
	if err := json.Unmarshal([]byte(mustRun("", "run", "list", "--job", "cli.demo", "--json")), &runs); err != nil || len(runs.Runs) != 1 {
		t.Fatalf("run list: %v %+v", err, runs)
	}
	id := runs.Runs[0].ID
	if out := mustRun("", "run", "get", id); !strings.Contains(out, "SUCCESS") {
		t.Errorf("run get:\n%s", out)
	}
	if out := mustRun("", "run", "logs", id); !strings.Contains(out, "slept") && !strings.Contains(out, "sleep") {
		t.Logf("run logs output (handler may log nothing):\n%s", out)
	}
	var retry connecthub.Run
	if err := json.Unmarshal([]byte(mustRun("", "run", "retry", id, "--json")), &retry); err != nil || retry.Trigger != connecthub.TriggerRetry {
		t.Fatalf("run retry: %v %+v", err, retry)
	}
	code, _, errOut = runCLI(t, env, "", "run", "logs", retry.ID, "-f")
	if code != 0 {
		t.Errorf("run logs -f: exit %d %s", code, errOut)
	}

	// Errors: one line, non-zero exit.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"job", "get", "missing"}, 1, "not found"},
		{[]string{"job", "create", "--id", "x", "--handler", "noop", "--cron", "nope"}, 1, "cron_expr"},
		{[]string{"job", "create", "--id", "x"}, 2, "--handler"},
		{[]string{"job", "create", "--id", "x", "--handler", "noop", "--config", "{"}, 2, "--config"},
		{[]string{"job", "delete", "cli.file"}, 2, "--yes"},
		{[]string{"run", "retry", "missing"}, 1, "not found"},
		{[]string{"nosuch"}, 2, "unknown command"},
		{[]string{"job", "list", "--token", "bad"}, 1, "401"},
	} {
		code, _, errOut := runCLI(t, env, "", tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("connecthub %v: exit %d (want %d), stderr %q (want %q, one line)", tc.args, code, tc.code, errOut, tc.want)
		}
	}
	mustRun("", "job", "delete", "cli.file", "--yes")
	code, _, _ = runCLI(t, map[string]string{"CONNECTHUB_SERVER_URL": "http://127.0.0.1:1", "CONNECTHUB_ADMIN_TOKEN": "x-unreachable-token-0123"}, "", "job", "list")
	if code != 1 {
		t.Errorf("unreachable server: exit %d", code)
	}
}

func TestCLILocalCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"CONNECTHUB_DATA_DIR": dir, "CONNECTHUB_ADMIN_TOKEN": "super-secret-token-value"}
	cases := []struct {
		name  string
		args  []string
		code  int
		check func(out string) bool
	}{
		{"version", []string{"version"}, 0, func(o string) bool { return strings.HasPrefix(o, "connecthub ") }},
		{"cron next", []string{"cron", "next", "0 2 * * *", "--tz", "America/New_York", "-n", "3", "--after", "2026-03-07T12:00:00Z"}, 0, func(o string) bool {
			return o == "2026-03-08T03:00:00-04:00\n2026-03-09T02:00:00-04:00\n2026-03-10T02:00:00-04:00\n"
		}},
		{"cron next at UTC+0", []string{"cron", "next", "0 2 * * *", "--tz", "Europe/London", "-n", "2", "--after", "2026-12-06T12:00:00Z"}, 0, func(o string) bool {
			return o == "2026-12-07T02:00:00+00:00\n2026-12-08T02:00:00+00:00\n"
		}},
		{"cron next bad", []string{"cron", "next", "99 * * * *"}, 1, nil},
		{"cron next bad tz", []string{"cron", "next", "@daily", "--tz", "Nowhere/Land"}, 2, nil},
		{"keygen", []string{"keygen"}, 0, func(o string) bool { return len(strings.TrimSpace(o)) == 44 }},
		{"config redacts", []string{"config"}, 0, func(o string) bool {
			return strings.Contains(o, "CONNECTHUB_ADMIN_TOKEN") && !strings.Contains(o, "super-secret-token-value")
		}},
		{"migrate", []string{"migrate"}, 0, nil},
		{"migrate again", []string{"migrate"}, 0, func(o string) bool { return strings.Contains(o, "up to date") }},
		{"healthcheck down", []string{"healthcheck", "--url", "http://127.0.0.1:1/health/ready", "--timeout", "2s"}, 1, nil},
		{"bad workers", []string{"config", "--workers", "-1"}, 1, nil},
	}
	for _, tc := range cases {
		code, out, errOut := runCLI(t, env, "", tc.args...)
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d\n%s%s", tc.name, code, tc.code, out, errOut)
			continue
		}
		if tc.check != nil && !tc.check(out) {
			t.Errorf("%s: unexpected output:\n%s", tc.name, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "connecthub.db")); err != nil {
		t.Errorf("migrate did not create the database: %v", err)
	}
}

func TestCLIHealthcheckUp(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil)
	code, out, errOut := runCLI(t, nil, "", "healthcheck", "--url", s.url+"/health/ready")
	if code != 0 || strings.TrimSpace(out) != "ok" {
		t.Fatalf("healthcheck: %d %s %s", code, out, errOut)
	}
}
