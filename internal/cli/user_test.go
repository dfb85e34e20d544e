package cli_test

import (
	"strings"
	"testing"
)

// TestUserCommands manages users with the CLI, through the API, and holds
// a user's personal token to the role the CLI gives it.
func TestUserCommands(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil)
	env := map[string]string{"CONNECTHUB_SERVER_URL": s.url, "CONNECTHUB_ADMIN_TOKEN": testToken}
	for _, c := range []struct {
		stdin string
		args  []string
		code  int
		out   string
	}{
		{"li lei's password\n", []string{"user", "add", "li.lei", "--role", "operator", "--display-name", "李雷", "--password-stdin"}, 0, "added li.lei (operator)"},
		{"li lei's password\n", []string{"user", "add", "li.lei", "--password-stdin"}, 1, "already exists"},
		{"short\n", []string{"user", "add", "han", "--password-stdin"}, 1, "at least 12"},
		{"", []string{"user", "add", "han"}, 2, "--password-stdin is required"},
		{"", []string{"user", "set-role", "li.lei", "root"}, 2, "role must be"},
		{"", []string{"user", "set-role", "li.lei", "viewer"}, 0, "set role viewer for li.lei"},
		{"a brand new password\n", []string{"user", "passwd", "li.lei"}, 0, "set the password of li.lei"},
		{"", []string{"user", "list"}, 0, "li.lei"},
		{"", []string{"user", "disable", "nobody"}, 1, "not found"},
		{"", []string{"user", "disable", "li.lei"}, 0, "disabled li.lei"},
		{"", []string{"user", "disable", "li.lei", "--undo"}, 0, "enabled li.lei"},
		{"", []string{"user", "update", "li.lei"}, 2, "nothing to update"},
		{"", []string{"user", "update", "nobody", "--allow-oidc-link"}, 1, "not found"},
		{"", []string{"user", "update", "li.lei", "--allow-oidc-link=false"}, 0, "withdrew the OIDC link of li.lei"},
		{"", []string{"user", "update", "li.lei", "--allow-oidc-link"}, 0, "allowed the next OIDC sign-in to link to li.lei"},
	} {
		code, out, errOut := runCLI(t, env, c.stdin, c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.out) {
			t.Errorf("connecthub %s: %d %q %q; want %d and %q", strings.Join(c.args, " "), code, out, errOut, c.code, c.out)
		}
	}
	code, out, _ := runCLI(t, env, "", "user", "list", "--json")
	if code != 0 || !strings.Contains(out, `"role": "viewer"`) || !strings.Contains(out, `"oidc_link_allowed": true`) || strings.Contains(out, "argon2") || strings.Contains(out, "password") {
		t.Errorf("user list --json: %d %s", code, out)
	}
}
