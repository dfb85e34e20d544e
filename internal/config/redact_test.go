package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// secretEnv sets every kind of secret, each with a value that is easy to
// find in output.
var secretEnv = envMap{
	"CONNECTHUB_ADMIN_TOKEN":    "SECRET-admin-token",
	"CONNECTHUB_ADMIN_PASSWORD": "SECRET-admin-password",
	"CONNECTHUB_WORKER_TOKEN":   "SECRET-worker-token",
	"CONNECTHUB_DB_URL":         "postgres://hub:SECRET-db-password@db:5432/hub?sslmode=require&sslpassword=SECRET-ssl&application_name=connecthub",
	"CONNECTHUB_SERVER_URL":     "https://worker:SECRET-basic-auth@hub.example.com/",
	"CONNECTHUB_DATA_DIR":       "/var/lib/connecthub",
	"CONNECTHUB_WORKERS":        "4",
	// Single sign-on needs its issuer, client and the public URL to be
	// valid around its secret.
	"CONNECTHUB_OIDC_ISSUER":        "https://sso.example.com/realms/ops",
	"CONNECTHUB_OIDC_CLIENT_ID":     "connecthub",
	"CONNECTHUB_OIDC_CLIENT_SECRET": "SECRET-oidc-client",
	"CONNECTHUB_PUBLIC_URL":         "https://hub.example.com",
}

// assertNoSecret fails if out shows any secret of secretEnv in clear
// (each value starts with "SECRET-"; variable names such as
// CONNECTHUB_OIDC_CLIENT_SECRET may show).
func assertNoSecret(t *testing.T, what, out string) {
	t.Helper()
	if strings.Contains(out, "SECRET-") {
		t.Errorf("%s shows a secret in clear:\n%s", what, out)
	}
}

func TestRedactedGolden(t *testing.T) {
	t.Parallel()
	c := load(t, secretEnv)
	var b strings.Builder
	for _, s := range c.Redacted() {
		fmt.Fprintf(&b, "%s=%s\t# %s\n", s.Name, s.Value, s.Source)
	}
	got := b.String()
	assertNoSecret(t, "Redacted()", got)

	golden := filepath.Join("testdata", "redacted.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("Redacted() differs from %s (go test -update rewrites it):\n got:\n%s\nwant:\n%s", golden, got, want)
	}
}

func TestNoSecretInAnyOutput(t *testing.T) {
	t.Parallel()
	c := load(t, secretEnv)

	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		assertNoSecret(t, "fmt "+verb+" of *Config", fmt.Sprintf(verb, c))
		assertNoSecret(t, "fmt "+verb+" of Config", fmt.Sprintf(verb, *c))
		assertNoSecret(t, "fmt "+verb+" of a Secret", fmt.Sprintf(verb, c.AdminToken))
	}

	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, "JSON", string(js))
	var decoded map[string]string
	if err := json.Unmarshal(js, &decoded); err != nil {
		t.Fatalf("JSON %s: %v", js, err)
	}
	if decoded["CONNECTHUB_ADMIN_TOKEN"] != "******" || decoded["CONNECTHUB_WORKERS"] != "4" {
		t.Errorf("JSON = %s", js)
	}

	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		slog.New(h(&buf)).Info("start", "config", c, "token", c.AdminToken)
		assertNoSecret(t, "slog", buf.String())
		if !strings.Contains(buf.String(), "CONNECTHUB_LISTEN") {
			t.Errorf("slog output lacks the settings: %s", buf.String())
		}
	}

	// The values are all still there for the code that needs them.
	if c.AdminToken.Value() != "SECRET-admin-token" || !strings.Contains(c.DBURL, "SECRET-db-password") {
		t.Error("redaction changed the values themselves")
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"postgres://u:pw@h:5432/db?sslmode=disable", "postgres://u:******@h:5432/db?sslmode=disable"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgres://h/db?password=pw&user=u", "postgres://h/db?password=******&user=u"},
		{"postgres://u:p%40ss@h/db", "postgres://u:******@h/db"},
		{"postgres://u:pw@h:bad/db", "******"},
		{"sqlite:///var/lib/hub.db", "sqlite:///var/lib/hub.db"},
		{"sqlite://50%.db", "sqlite://50%.db"},
		{"http://127.0.0.1:8000", "http://127.0.0.1:8000"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSecret(t *testing.T) {
	t.Parallel()
	s := Secret("hunter2")
	tests := []struct{ what, got, want string }{
		{"String", s.String(), "******"},
		{"GoString", s.GoString(), `"******"`},
		{"%v", fmt.Sprintf("%v", s), "******"},
		{"%s", fmt.Sprintf("%s", s), "******"},
		{"%q", fmt.Sprintf("%q", s), `"******"`},
		{"%#v", fmt.Sprintf("%#v", s), `"******"`},
		{"%d", fmt.Sprintf("%d", s), "******"},
		{"%x", fmt.Sprintf("%x", s), "******"},
		{"in a struct", fmt.Sprintf("%+v", struct{ S Secret }{s}), "{S:******}"},
		{"Value", s.Value(), "hunter2"},
		{"empty", Secret("").String(), ""},
		{"empty %q", fmt.Sprintf("%q", Secret("")), `""`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.what, tt.got, tt.want)
		}
	}

	js, err := json.Marshal(map[string]any{"s": s, "empty": Secret("")})
	if err != nil || string(js) != `{"empty":"","s":"******"}` {
		t.Errorf("JSON = %s, %v", js, err)
	}
	txt, err := s.MarshalText()
	if err != nil || string(txt) != "******" {
		t.Errorf("MarshalText = %s, %v", txt, err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "s", s)
	if strings.Contains(buf.String(), "hunter2") || !strings.Contains(buf.String(), `"s":"******"`) {
		t.Errorf("slog = %s", buf.String())
	}
}

// TestDocsCoverEveryVariable keeps docs/configuration.md in step with the
// code: every variable is documented, on a table row that states its
// default as the code has it.
func TestDocsCoverEveryVariable(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for line := range strings.SplitSeq(string(doc), "\n") {
		if name, ok := strings.CutPrefix(line, "| `"); ok {
			name, _, _ = strings.Cut(name, "`")
			rows[name] = line
		}
	}
	derived := map[string]bool{"CONNECTHUB_DB_URL": true, "CONNECTHUB_FERNET_KEY_PATH": true}
	for _, s := range Default().Redacted() {
		row, ok := rows[s.Name]
		if !ok {
			t.Errorf("docs/configuration.md has no table row for %s", s.Name)
			continue
		}
		if s.Value != "" && !derived[s.Name] && !strings.Contains(row, "`"+s.Value+"`") {
			t.Errorf("docs/configuration.md row for %s does not state the default `%s`:\n%s", s.Name, s.Value, row)
		}
	}
	for name := range rows {
		if strings.HasPrefix(name, "CONNECTHUB_") && !isVariable(name) {
			t.Errorf("docs/configuration.md documents %s, which the code does not read", name)
		}
	}
}
