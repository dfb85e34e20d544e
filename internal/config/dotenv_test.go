package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDotenvFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join("testdata", "full.env")
	c, err := Load(envMap{}.get, path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9000" || c.DataDir != "/var/lib/connecthub" || c.Workers != 8 ||
		c.LeaseTTL != time.Minute || c.LogFormat != "json" || !c.EnableShell {
		t.Errorf("got %+v", exported(c))
	}
	if c.AdminToken.Value() != "tok-from-dotenv-0123456789" || c.AdminPassword.Value() != "dotenv-pa$SWORD-16ch" {
		t.Errorf("secrets = %q, %q", c.AdminToken.Value(), c.AdminPassword.Value())
	}
	if !slices.Equal(c.Queues, []string{"default", "reports"}) {
		t.Errorf("Queues = %q", c.Queues)
	}
	// Derived from the .env file's data dir.
	if c.SQLitePath() != "/var/lib/connecthub/connecthub.db" {
		t.Errorf("SQLitePath() = %q", c.SQLitePath())
	}
	sources := map[string]string{}
	for _, s := range c.Redacted() {
		sources[s.Name] = s.Source
	}
	if sources["CONNECTHUB_WORKERS"] != SourceDotenv || sources["CONNECTHUB_TIMEZONE"] != SourceDefault ||
		sources["CONNECTHUB_DB_URL"] != SourceDefault {
		t.Errorf("sources = %v", sources)
	}
	if len(c.Warnings()) != 0 {
		t.Errorf("Warnings() = %q, want none for other tools' variables", c.Warnings())
	}
}

func TestDotenvDoesNotOverrideEnvironment(t *testing.T) {
	t.Parallel()
	env := envMap{
		"CONNECTHUB_WORKERS":     "3",
		"CONNECTHUB_ADMIN_TOKEN": "tok-from-env-0123456789",
		// Exported but empty: counts as unset, so the .env value applies.
		"CONNECTHUB_LISTEN": "",
	}
	c, err := Load(env.get, filepath.Join("testdata", "full.env"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Workers != 3 || c.AdminToken.Value() != "tok-from-env-0123456789" {
		t.Errorf("Workers = %d, AdminToken from env lost: env must win over .env", c.Workers)
	}
	if c.Listen != "127.0.0.1:9000" {
		t.Errorf("Listen = %q, want the .env value behind an empty variable", c.Listen)
	}
	sources := map[string]string{}
	for _, s := range c.Redacted() {
		sources[s.Name] = s.Source
	}
	if sources["CONNECTHUB_WORKERS"] != SourceEnv || sources["CONNECTHUB_LISTEN"] != SourceDotenv {
		t.Errorf("sources = %v", sources)
	}
}

func TestDotenvMissingIsFine(t *testing.T) {
	t.Parallel()
	c, err := Load(envMap{}.get, filepath.Join(t.TempDir(), ".env"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen {
		t.Errorf("Listen = %q", c.Listen)
	}
}

func TestDotenvErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		path string
		want []string // substrings of the error
	}{
		{"bad variable name", filepath.Join("testdata", "malformed.env"),
			[]string{"testdata/malformed.env is malformed", `line 3: unexpected character "-" in variable name`}},
		{"unterminated quote", filepath.Join("testdata", "unterminated.env"),
			[]string{"testdata/unterminated.env is malformed", "line 3: unterminated quoted value"}},
		{"line without assignment", filepath.Join("testdata", "noassign.env"),
			[]string{"testdata/noassign.env is malformed", "line 2: expected NAME=value"}},
		{"last line without assignment", writeFile(t, ".env", "CONNECTHUB_WORKERS=2\noops"),
			[]string{"is malformed: a line has no NAME=value assignment"}},
		{"a directory", t.TempDir(),
			[]string{"config: reading .env file", "is a directory"}},
		{"bad value", filepath.Join("testdata", "bad-values.env"),
			[]string{
				"CONNECTHUB_SESSION_TTL: not a duration: \"12\" (use Go syntax such as 30s, 5m or 1h30m) (from .env file testdata/bad-values.env)",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(envMap{}.get, tt.path)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "leaked-secret-value") {
				t.Errorf("error shows the file's content: %v", err)
			}
		})
	}
}

func TestDotenvValidationErrorNamesTheFile(t *testing.T) {
	t.Parallel()
	path := writeFile(t, ".env", "CONNECTHUB_WORKERS=-1\n")
	_, err := Load(envMap{}.get, path)
	want := "CONNECTHUB_WORKERS: must be >= 0, got -1 (from .env file " + path + ")"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestDotenvWarnsAboutUnknownVariables(t *testing.T) {
	t.Parallel()
	path := filepath.Join("testdata", "typo.env")
	c, err := Load(envMap{}.get, path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		".env file testdata/typo.env: unknown variable CONNECTHUB_TOTALLY_UNKNOWN is ignored",
		".env file testdata/typo.env: unknown variable CONNECTHUB_WORKER is ignored (did you mean CONNECTHUB_WORKERS?)",
	}
	if !slices.Equal(c.Warnings(), want) {
		t.Errorf("Warnings() =\n%q\nwant\n%q", c.Warnings(), want)
	}
	if c.Workers != DefaultWorkers {
		t.Errorf("Workers = %d: a misspelt variable must not apply", c.Workers)
	}
}

func TestOverrides(t *testing.T) {
	t.Parallel()
	env := envMap{"CONNECTHUB_LISTEN": ":7000", "CONNECTHUB_WORKERS": "3"}
	c, err := Load(env.get, filepath.Join("testdata", "full.env"),
		Override{Variable: "CONNECTHUB_LISTEN", Value: ":6000", Flag: "--listen"},
		Override{Variable: "CONNECTHUB_DATA_DIR", Value: "/flag/data", Flag: "--data-dir"},
		Override{Variable: "CONNECTHUB_WORKERS", Value: "", Flag: "--workers"}, // not given
		Override{Variable: "CONNECTHUB_DB_URL", Value: "", Flag: "--db-url"},   // not given
	)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":6000" {
		t.Errorf("Listen = %q: a flag must win over env and .env", c.Listen)
	}
	if c.Workers != 3 {
		t.Errorf("Workers = %d: a flag that was not given must not apply", c.Workers)
	}
	if c.SQLitePath() != "/flag/data/connecthub.db" || c.FernetKeyPath != filepath.Join("/flag/data", "fernet.key") {
		t.Errorf("--data-dir must move the derived paths: SQLitePath = %q, FernetKeyPath = %q", c.SQLitePath(), c.FernetKeyPath)
	}
	for _, s := range c.Redacted() {
		if s.Name == "CONNECTHUB_LISTEN" && s.Source != SourceFlag {
			t.Errorf("source of CONNECTHUB_LISTEN = %q, want flag", s.Source)
		}
	}
}

func TestOverrideErrors(t *testing.T) {
	t.Parallel()
	_, err := Load(envMap{}.get, "", Override{Variable: "CONNECTHUB_WORKERS", Value: "-2", Flag: "--workers"})
	if want := "CONNECTHUB_WORKERS: must be >= 0, got -2 (from flag --workers)"; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
	_, err = Load(envMap{}.get, "", Override{Variable: "CONNECTHUB_WORKERS", Value: "many", Flag: "--workers"})
	if want := `CONNECTHUB_WORKERS: not an integer: "many" (from flag --workers)`; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
	_, err = Load(envMap{}.get, "", Override{Variable: "CONNECTHUB_NOPE", Value: "1"})
	if want := `config: override for unknown variable "CONNECTHUB_NOPE"`; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}
