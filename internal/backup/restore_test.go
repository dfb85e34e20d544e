package backup

import (
	"strings"
	"testing"
)

// TestPGGuidanceArgs checks the pg_dump/pg_restore options derived from a
// database URL: every connection parameter, never the password, quoted
// for the shell where needed.
func TestPGGuidanceArgs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		url, wantArgs, wantEnv string
	}{
		{"postgres://ch:secret@db.example:5433/connecthub?sslmode=require",
			"--host=db.example --port=5433 --username=ch --dbname=connecthub", "PGSSLMODE=require "},
		{"postgres:///app?host=/run/postgresql&user=me&search_path=hub",
			"--host=/run/postgresql --username=me --dbname=app --schema=hub", ""},
		{"postgres://u@h/db?search_path=a,b", "--host=h --username=u --dbname=db", ""},
		{"postgres://u@h/my%20db", "--host=h --username=u --dbname='my db'", ""},
		{"::not a url", "", ""},
	} {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			target := parsePGTarget(tt.url)
			if got := strings.Join(target.args(), " "); got != tt.wantArgs {
				t.Errorf("args = %q, want %q", got, tt.wantArgs)
			}
			if got := target.envPrefix(); got != tt.wantEnv {
				t.Errorf("envPrefix = %q, want %q", got, tt.wantEnv)
			}
			if strings.Contains(strings.Join(target.args(), " "), "secret") {
				t.Error("the password leaked into the guidance")
			}
		})
	}
}

// TestShellQuote checks that only what a POSIX shell would split or expand
// is quoted, and that quotes survive.
func TestShellQuote(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain-file_1.tar.gz": "plain-file_1.tar.gz",
		"":                    "''",
		"two words":           "'two words'",
		"it's":                `'it'\''s'`,
		"$HOME":               "'$HOME'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
