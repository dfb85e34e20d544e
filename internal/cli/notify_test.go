package cli_test

import (
	"strings"
	"testing"

	"github.com/connecthub/connecthub/internal/notify/notifytest"
)

// TestNotifyCommands manages a channel and a rule with the CLI against a
// real serve, and sends a test message to a receiver that checks
// DingTalk's signature; a channel whose receiver refuses makes notify
// test exit non-zero with the receiver's answer.
func TestNotifyCommands(t *testing.T) {
	t.Parallel()
	ding := notifytest.DingTalk(t, "tok", "SEC-cli")
	s := startServer(t, t.TempDir(), nil)
	env := map[string]string{"CONNECTHUB_SERVER_URL": s.url, "CONNECTHUB_ADMIN_TOKEN": testToken}
	run := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, env, stdin, args...)
	}
	must := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errOut := run(stdin, args...)
		if code != 0 {
			t.Fatalf("connecthub %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	must(`{"name":"ops","type":"dingtalk","language":"en","url":"`+ding.URL+`/robot/send?access_token=tok","secret":"SEC-cli"}`,
		"notify", "channels", "create", "-f", "-")
	must(`{"name":"bad","type":"dingtalk","url":"`+ding.URL+`/robot/send?access_token=tok","secret":"SEC-wrong"}`,
		"notify", "channels", "create", "-f", "-")
	out := must("", "notify", "channels", "list")
	if !strings.Contains(out, "ops") || strings.Contains(out, "SEC-cli") || strings.Contains(out, "access_token=tok") {
		t.Fatalf("channels list:\n%s", out)
	}
	out = must(`{"name":"all failures","event":"failure","channels":["ops"]}`, "notify", "rules", "create", "-f", "-")
	if !strings.Contains(out, "created alert rule") {
		t.Fatalf("rules create: %s", out)
	}
	if out := must("", "notify", "rules", "list"); !strings.Contains(out, "all failures") || !strings.Contains(out, "10m0s") {
		t.Fatalf("rules list:\n%s", out)
	}
	if out := must("", "notify", "test", "ops"); !strings.Contains(out, `sent to ops: HTTP 200 {"errcode":0,"errmsg":"ok"}`) {
		t.Fatalf("notify test ops: %s", out)
	}
	code, _, errOut := run("", "notify", "test", "bad")
	if code == 0 || !strings.Contains(errOut, "sign not match") {
		t.Fatalf("notify test bad: exit %d: %s", code, errOut)
	}
	code, _, errOut = run("", "notify", "channels", "delete", "ops")
	if code == 0 || !strings.Contains(errOut, "used by alert rules") {
		t.Fatalf("deleting a channel in use: exit %d: %s", code, errOut)
	}
	code, _, errOut = run("", "notify", "channels", "create")
	if code == 0 || !strings.Contains(errOut, "--file is required") {
		t.Fatalf("create without --file: exit %d: %s", code, errOut)
	}
	if out := must("", "notify", "log", "--channel", "ops"); !strings.Contains(out, "test") || !strings.Contains(out, "sent") {
		t.Fatalf("notify log:\n%s", out)
	}
}
