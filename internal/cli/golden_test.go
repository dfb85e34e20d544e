package cli_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/connecthub/connecthub/client"
)

// goldenStep is one command of the golden transcript: its arguments, its
// stdin, and a file it needs written first (path relative to the temp dir).
type goldenStep struct {
	args      []string
	stdin     string
	file, doc string
}

// TestCLITextOutputGolden runs the read commands and the commands that
// change something against a real server and compares their text output,
// stdout and stderr and exit code, with testdata/cli-output.golden. Ids,
// times, durations, paths and secrets differ from run to run and are
// masked; everything else (headers, columns, empty-list hints, summary
// lines) must stay as it is. Regenerate after an intended change with
// CONNECTHUB_UPDATE_GOLDEN=1 go test -run TestCLITextOutputGolden ./internal/cli/
func TestCLITextOutputGolden(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, t.TempDir(), nil)
	env := map[string]string{"CONNECTHUB_SERVER_URL": s.url, "CONNECTHUB_ADMIN_TOKEN": testToken, "CONNECTHUB_TIMEZONE": "Asia/Shanghai"}
	jobsYAML := "id: cfg.one\nhandler: noop\ncron_expr: \"0 3 * * *\"\ndescription: from a file\n---\nid: g.demo\nhandler: noop\ndescription: from the file\n"
	cal := `{"name":"acme","description":"Acme days","days":[{"date":"2030-01-01","kind":"holiday","name":"New Year"},{"date":"2030-01-05","kind":"workday","name":"make-up"}]}`
	steps := []goldenStep{
		{args: []string{"job", "list"}},
		{args: []string{"run", "list"}},
		{args: []string{"job", "deleted"}},
		{args: []string{"job", "create", "--id", "g.demo", "--handler", "noop", "--cron", "0 2 * * *", "--tz", "Europe/London", "--description", "golden"}},
		{args: []string{"job", "create", "--id", "g.other", "--handler", "noop", "--max-attempts", "3", "--queue", "side", "--priority", "2"}},
		{args: []string{"job", "update", "g.demo", "--description", "changed", "--on-success", "g.other"}},
		{args: []string{"job", "list"}},
		{args: []string{"job", "list", "--q", "nomatch"}},
		{args: []string{"job", "get", "g.demo"}},
		{args: []string{"job", "disable", "g.other"}},
		{args: []string{"job", "revisions", "g.demo"}},
		{args: []string{"job", "revisions", "g.demo", "--limit", "1"}},
		{args: []string{"job", "diff", "g.demo", "1", "2"}},
		{args: []string{"job", "diff", "g.demo", "1", "1"}},
		{args: []string{"run", "list", "--job", "g.demo"}},
		{args: []string{"job", "run", "g.demo", "-f"}},
		{args: []string{"run", "list", "--job", "g.demo"}},
		{args: []string{"run", "list", "--status", "FAILURE"}},
		{args: []string{"runs", "cancel", "--job", "g.demo"}},
		{args: []string{"runs", "delete", "--job", "g.demo"}},
		{args: []string{"runs", "retry", "--job", "g.demo", "--status", "SUCCESS"}},
		{args: []string{"job", "delete", "g.other", "--yes"}},
		{args: []string{"job", "update", "g.demo", "--on-success", ""}},
		{args: []string{"job", "delete", "g.other", "--yes"}},
		{args: []string{"job", "deleted"}},
		{args: []string{"job", "deleted", "--limit", "1"}},
		{args: []string{"job", "revisions", "g.other"}},
		{args: []string{"job", "deleted"}},
		{args: []string{"job", "restore", "g.other", "1"}},
		{args: []string{"queue", "list"}},
		{args: []string{"queue", "pause", "side"}},
		{args: []string{"queue", "pause", "side"}},
		{args: []string{"queue", "list"}},
		{args: []string{"queue", "resume", "side"}},
		{args: []string{"nodes", "list"}},
		{args: []string{"token", "list"}},
		{args: []string{"token", "create", "--name", "w1", "--queues", "a,b"}},
		{args: []string{"token", "list"}},
		{args: []string{"user", "add", "lei", "--role", "operator", "--display-name", "李雷", "--password-stdin"}, stdin: "pw-0123456789\n"},
		{args: []string{"user", "set-role", "lei", "admin"}},
		{args: []string{"user", "list"}},
		{args: []string{"notify", "channels", "list"}},
		{args: []string{"notify", "channels", "create", "-f", "-"}, stdin: `{"name":"ops","type":"webhook","language":"en","url":"http://127.0.0.1:1/hook"}`},
		{args: []string{"notify", "channels", "list"}},
		{args: []string{"notify", "rules", "create", "-f", "-"}, stdin: `{"name":"fails","event":"failure","channels":["ops"],"match":{"job":"g.*"}}`},
		{args: []string{"notify", "rules", "list"}},
		{args: []string{"notify", "log"}},
		{args: []string{"calendar", "put", "acme", "-f", "-"}, stdin: cal},
		{args: []string{"calendar", "get", "acme"}},
		{args: []string{"calendar", "delete", "acme"}},
		{args: []string{"batches", "list"}},
		{args: []string{"diff", "-f", "jobs.yaml"}, file: "jobs.yaml", doc: jobsYAML},
		{args: []string{"apply", "-f", "jobs.yaml", "--dry-run"}},
		{args: []string{"apply", "-f", "jobs.yaml", "--yes"}},
		{args: []string{"batches", "list"}},
		{args: []string{"batches", "show", "1"}},
		{args: []string{"rollback", "1", "--yes"}},
		{args: []string{"batches", "list"}},
		{args: []string{"export", "--job", "g.*"}},
		{args: []string{"run", "get", "FIRSTRUN"}},
		{args: []string{"run", "logs", "FIRSTRUN"}},
		{args: []string{"user", "disable", "lei"}},
		{args: []string{"user", "disable", "lei", "--undo"}},
		{args: []string{"user", "update", "lei", "--allow-oidc-link"}},
		{args: []string{"user", "passwd", "lei"}, stdin: "pw-9876543210\n"},
		{args: []string{"token", "revoke", "w1"}},
		{args: []string{"nodes", "clean", "--older-than", "1h"}},
		{args: []string{"notify", "channels", "delete", "ops"}},
		{args: []string{"queue", "list", "--json"}},
		{args: []string{"stats", "rebuild", "--data-dir", "DATADIR"}},
		{args: []string{"migrate", "--data-dir", "DATADIR"}},
		{args: []string{"cron", "next", "0 9 * * 1-5", "--tz", "Europe/London", "--after", "2030-01-01T00:00:00Z", "-n", "3"}},
		{args: []string{"version"}},
		{args: []string{"job", "get", "missing"}},
		{args: []string{"job", "diff", "g.demo", "0", "x"}},
	}
	var b strings.Builder
	for _, st := range steps {
		if st.file != "" {
			if err := os.WriteFile(filepath.Join(dir, st.file), []byte(st.doc), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		args := append([]string(nil), st.args...)
		for i, a := range args {
			switch a {
			case "FIRSTRUN":
				args[i] = firstRun(t, s)
			case "DATADIR":
				args[i] = s.dataDir
			}
			if (st.file != "" && a == st.file) || (i > 0 && args[i-1] == "-f" && strings.HasSuffix(a, ".yaml")) {
				args[i] = filepath.Join(dir, a)
			}
		}
		code, out, errOut := runCLI(t, env, st.stdin, args...)
		fmt.Fprintf(&b, "$ connecthub %s\n", strings.Join(args, " "))
		if code != 0 {
			fmt.Fprintf(&b, "[exit %d]\n", code)
		}
		b.WriteString(out)
		if errOut != "" {
			b.WriteString("--- stderr\n" + errOut)
		}
		b.WriteString("\n")
	}
	// Whether `job run -f` sees its run still QUEUED, and says so, depends
	// on how fast the worker claims it: the line is left out either way.
	got := maskGolden(goldenQueued.ReplaceAllString(b.String(), ""), dir)
	// CONNECTHUB_GOLDEN_RAW names a file for the transcript with its
	// column padding kept, to compare a refactoring's output byte by byte.
	if raw := os.Getenv("CONNECTHUB_GOLDEN_RAW"); raw != "" {
		if err := os.WriteFile(raw, []byte(mask(b.String(), dir)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join("testdata", "cli-output.golden")
	if os.Getenv("CONNECTHUB_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the CLI's text output is not %s (CONNECTHUB_UPDATE_GOLDEN=1 rewrites it after an intended change):\n%s", path, lineDiff(string(want), got))
	}
}

var (
	goldenQueued  = regexp.MustCompile(`(?m)^run \S+ of job \S+ queued \(\w+\), waiting for a worker…\n`)
	goldenULID    = regexp.MustCompile(`\b[0-9A-HJKMNP-TV-Z]{26}\b`)
	goldenTime    = regexp.MustCompile(`\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?( ?[+-]\d\d:\d\d|Z)?`)
	goldenDur     = regexp.MustCompile(`\b\d+(\.\d+)?(µs|ms|s)\b`)
	goldenPort    = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	goldenSecret  = regexp.MustCompile(`(?m)^chw_\S+$|^[A-Za-z0-9_-]{32,}$`)
	goldenDataDir = regexp.MustCompile(`/tmp/TestCLITextOutputGolden\d+/\d+`)
	goldenToken   = regexp.MustCompile(`\btok_[a-z0-9]+\b`)
	goldenHash    = regexp.MustCompile(`(?m)\((s|sh|sha|sha2|sha25|sha256)[0-9a-f:]*…?\)?$`)
	goldenSpaces  = regexp.MustCompile(`  +`)
)

// maskGolden replaces what differs from run to run: ids (numbered in the
// order they appear, so that the same id reads the same), times,
// durations, the temp dir, ports, the host name, token secrets and file
// hashes. Column padding depends on the width of masked values, so runs
// of spaces are folded to two.
func maskGolden(s, dir string) string { return goldenSpaces.ReplaceAllString(mask(s, dir), "  ") }

// mask is maskGolden without folding the padding.
func mask(s, dir string) string {
	s = strings.ReplaceAll(s, dir, "<DIR>")
	s = goldenDataDir.ReplaceAllString(s, "<DATADIR>")
	if h, err := os.Hostname(); err == nil && h != "" {
		s = regexp.MustCompile(regexp.QuoteMeta(h)+`-\d+(-\d+)?`).ReplaceAllString(s, "<HOST>-<PID>")
	}
	ids := map[string]string{}
	s = goldenULID.ReplaceAllStringFunc(s, func(id string) string {
		if _, ok := ids[id]; !ok {
			ids[id] = fmt.Sprintf("<ID%d>", len(ids)+1)
		}
		return ids[id]
	})
	s = goldenTime.ReplaceAllString(s, "<TIME>")
	s = goldenPort.ReplaceAllString(s, "127.0.0.1:<PORT>")
	s = goldenHash.ReplaceAllString(s, "(<HASH>)")
	s = goldenToken.ReplaceAllString(s, "tok_<ID>")
	s = goldenSecret.ReplaceAllString(s, "<SECRET>")
	return goldenDur.ReplaceAllString(s, "<DUR>")
}

// lineDiff shows the lines of got that differ from want, numbered.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
		}
	}
	return b.String()
}

// firstRun is the id of the server's oldest run.
func firstRun(t *testing.T, s *server) string {
	t.Helper()
	runs, err := s.client.Runs.List(context.Background(), client.RunFilter{})
	if err != nil || len(runs.Runs) == 0 {
		t.Fatalf("no runs: %v", err)
	}
	return runs.Runs[len(runs.Runs)-1].ID
}
