package cli_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeMarker precedes the README block whose connecthub lines this test
// runs. It is an HTML comment, so a reader of the rendered page does not
// see it.
const readmeMarker = "<!-- readme-test: first-steps"

// readmeStep is one connecthub command line of the README.
type readmeStep struct {
	line    string   // as written, for messages
	args    []string // the words after "connecthub"
	comment string   // the trailing # comment
}

// TestREADMEFirstSteps follows the README's first steps literally: it takes
// every connecthub line of the marked block, starts the program's serve the
// way make run does (a fresh directory, a generated admin token that the
// client finds in ./data), and runs each line as a separate process of the
// built program in that directory. A line whose comment says "exits 1" must
// fail (the README shows how to read a failure); every other line must
// succeed. The only change made to a line is the port: the README's
// 127.0.0.1:8000 becomes the test server's random port.
func TestREADMEFirstSteps(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	steps, err := readmeSteps(string(readme))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	var fails int
	for _, s := range steps {
		if strings.Contains(s.comment, "exits 1") {
			fails++
		}
	}
	if len(steps) < 5 || fails == 0 {
		t.Fatalf("README.md first steps: %d connecthub lines, %d of them failing on purpose; want at least 5 and a failing run to read", len(steps), fails)
	}

	dir := t.TempDir()
	// As make run: the working directory holds ./data, the token is
	// generated, the timezone is the default one.
	p := startProc(t, dir, map[string]string{"CONNECTHUB_DATA_DIR": "", "CONNECTHUB_ADMIN_TOKEN": "", "CONNECTHUB_TIMEZONE": ""})
	if _, err := os.Stat(filepath.Join(dir, "data", "admin.token")); err != nil {
		t.Fatalf("serve did not generate ./data/admin.token: %v", err)
	}
	addr := strings.TrimPrefix(p.url, "http://")
	offset := regexp.MustCompile(` [+-]\d\d:\d\d\b`)
	for _, s := range steps {
		args := make([]string, len(s.args))
		for i, a := range s.args {
			args[i] = strings.ReplaceAll(a, "127.0.0.1:8000", addr)
		}
		code, stdout, stderr := runProgram(t, dir, p.url, args)
		all := stdout + stderr
		t.Logf("$ connecthub %s\n%s", strings.Join(args, " "), all)
		want := 0
		if strings.Contains(s.comment, "exits 1") {
			want = 1
		}
		if code != want {
			t.Fatalf("README step %q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", s.line, code, want, stdout, stderr)
		}
		if strings.Contains(all, "s3cr3t") {
			t.Errorf("README step %q shows the secret value:\n%s", s.line, all)
		}
		switch {
		case len(args) >= 3 && args[0] == "job" && args[1] == "run" && want == 0:
			for _, w := range []string{"started on node", "ended SUCCESS", "200"} {
				if !strings.Contains(all, w) {
					t.Errorf("README step %q: output lacks %q:\n%s", s.line, w, all)
				}
			}
			if !offset.MatchString(stdout) {
				t.Errorf("README step %q: the log lines show no UTC offset:\n%s", s.line, stdout)
			}
		case len(args) >= 3 && args[0] == "job" && args[1] == "run":
			for _, w := range []string{"started on node", "ended FAILURE", "error: ", "401"} {
				if !strings.Contains(stderr, w) {
					t.Errorf("README step %q: stderr lacks %q:\n%s", s.line, w, stderr)
				}
			}
			if strings.Count(stderr, "ended FAILURE") != 1 {
				t.Errorf("README step %q: the end is told more than once:\n%s", s.line, stderr)
			}
		case len(args) >= 2 && args[0] == "run" && args[1] == "list":
			if !strings.HasPrefix(stdout, "ID") || !offset.MatchString(stdout) {
				t.Errorf("README step %q: want a table with times and their offsets:\n%s", s.line, stdout)
			}
		case len(args) >= 2 && args[0] == "cron" && args[1] == "next":
			for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
				if _, err := time.Parse(time.RFC3339, line); err != nil || strings.HasSuffix(line, "Z") {
					t.Errorf("README step %q: %q is not an RFC 3339 time with its offset", s.line, line)
				}
			}
		}
	}
}

// runProgram runs the test binary as the connecthub program (see TestMain)
// in dir, with the server's URL where the README's default would be.
func runProgram(t *testing.T, dir, serverURL string, args []string) (int, string, string) {
	t.Helper()
	return runProgramEnv(t, dir, map[string]string{"CONNECTHUB_SERVER_URL": serverURL}, args...)
}

// runProgramEnv runs the test binary as the connecthub program (see
// TestMain) in dir, with env and nothing else of the test's environment
// but PATH and HOME.
func runProgramEnv(t *testing.T, dir string, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = []string{"CONNECTHUB_TEST_AS_MAIN=1", "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	default:
		t.Fatalf("run %v: %v", args, err)
		return -1, "", ""
	}
}

// readmeSteps returns the connecthub lines of the first ```sh block after
// the marker, with continuation lines joined and the words split as sh
// would split them.
func readmeSteps(readme string) ([]readmeStep, error) {
	i := strings.Index(readme, readmeMarker)
	if i < 0 {
		return nil, fmt.Errorf("no %q marker before the first steps", readmeMarker)
	}
	rest := readme[i:]
	open := strings.Index(rest, "```sh\n")
	if open < 0 {
		return nil, errors.New("no ```sh block after the marker")
	}
	rest = rest[open+len("```sh\n"):]
	end := strings.Index(rest, "\n```")
	if end < 0 {
		return nil, errors.New("the ```sh block after the marker does not end")
	}
	block := strings.ReplaceAll(rest[:end], "\\\n", " ")
	var steps []readmeStep
	for _, line := range strings.Split(block, "\n") {
		if f := strings.Fields(line); len(f) == 0 || f[0] != "connecthub" {
			continue // not a command of ours (export PATH=...): not run
		}
		words, comment, err := shellWords(line)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", line, err)
		}
		steps = append(steps, readmeStep{line: strings.Join(strings.Fields(line), " "), args: words[1:], comment: comment})
	}
	return steps, nil
}

// shellWords splits a command line the way sh does for the plain lines a
// README shows: single and double quotes, backslash escapes, and a trailing
// # comment. Anything the test cannot run faithfully (a variable, a
// command substitution, a pipe) is an error, so the README stays literal.
func shellWords(line string) (words []string, comment string, err error) {
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
		case c == '#' && !inWord:
			return words, strings.TrimSpace(line[i+1:]), nil
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, "", errors.New("unterminated single quote")
			}
			cur.WriteString(line[i+1 : i+1+j])
			inWord, i = true, i+1+j
		case c == '"':
			inWord = true
			for i++; i < len(line) && line[i] != '"'; i++ {
				switch {
				case line[i] == '\\' && i+1 < len(line) && strings.IndexByte(`"\$`+"`", line[i+1]) >= 0:
					i++
					cur.WriteByte(line[i])
				case line[i] == '$' || line[i] == '`':
					return nil, "", errors.New("expansions inside double quotes are not supported")
				default:
					cur.WriteByte(line[i])
				}
			}
			if i >= len(line) {
				return nil, "", errors.New("unterminated double quote")
			}
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case strings.IndexByte("$`|&;<>()", c) >= 0:
			return nil, "", fmt.Errorf("%q is not supported in a connecthub line of the first steps", c)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return words, "", nil
}

func TestShellWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line    string
		words   []string
		comment string
		bad     bool
	}{
		{`connecthub job run demo -f   # exits 1: why`, []string{"connecthub", "job", "run", "demo", "-f"}, "exits 1: why", false},
		{`connecthub x --config '{"a":"{{secret.t}}"}'`, []string{"connecthub", "x", "--config", `{"a":"{{secret.t}}"}`}, "", false},
		{`connecthub cron next "0 2 * * *" --tz Europe/London`, []string{"connecthub", "cron", "next", "0 2 * * *", "--tz", "Europe/London"}, "", false},
		{`connecthub a "b\"c" d\ e`, []string{"connecthub", "a", `b"c`, "d e"}, "", false},
		{`connecthub a "$HOME"`, nil, "", true},
		{`connecthub a | grep x`, nil, "", true},
		{`connecthub a 'open`, nil, "", true},
		{`export PATH="$PWD/bin:$PATH"`, nil, "", true},
		{`# only a comment`, nil, "only a comment", false},
	} {
		words, comment, err := shellWords(tc.line)
		if (err != nil) != tc.bad {
			t.Errorf("%q: err %v, want error %t", tc.line, err, tc.bad)
			continue
		}
		if !tc.bad && (strings.Join(words, "\x00") != strings.Join(tc.words, "\x00") || comment != tc.comment) {
			t.Errorf("%q: words %q comment %q, want %q %q", tc.line, words, comment, tc.words, tc.comment)
		}
	}
}
