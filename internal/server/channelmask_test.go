package server_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
)

// leaked holds the values the leaking handler prints; the test sets them
// before each run.
type leaked struct {
	mu     sync.Mutex
	values []string
}

func (l *leaked) set(v ...string) {
	l.mu.Lock()
	l.values = v
	l.mu.Unlock()
}

func (l *leaked) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.values
}

// TestChannelSecretsAreMaskedInRuns checks that the write-only parts of
// notification channels (a webhook's HMAC secret and URL token, a
// DingTalk sign secret, an SMTP password) are masked in every run's log,
// message and error like the server's own secrets, including a secret
// changed while the server runs.
func TestChannelSecretsAreMaskedInRuns(t *testing.T) {
	t.Parallel()
	var l leaked
	leak := handler.Spec{Name: "leak_channel_secrets", Func: func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
		vals := l.get()
		for _, v := range vals {
			task.Log.Info("raw " + v)
			task.Log.Info("b64 " + base64.StdEncoding.EncodeToString([]byte(v)))
		}
		return nil, errors.New("upstream refused " + strings.Join(vals, " "))
	}}
	n := startNode(t, testConfig(t, t.TempDir()), leak)
	for _, ch := range []string{
		`{"name":"hook","type":"webhook","url":"https://hooks.example.com/in?token=hook-token-4711","secret":"hook-hmac-secret-4711"}`,
		`{"name":"ding","type":"dingtalk","url":"https://oapi.dingtalk.com/robot/send?access_token=ding-token-4711","secret":"SEC-ding-sign-4711"}`,
		`{"name":"mail","type":"email","smtp":{"host":"smtp.example.com","port":587,"username":"ops","password":"smtp-password-4711",
			"from":"hub@example.com","to":["ops@example.com"],"tls":"starttls"}}`,
	} {
		if code, body := n.api("POST", "/api/v1/channels", ch); code != http.StatusCreated {
			t.Fatalf("POST /channels %s = %d %v", ch, code, body)
		}
	}
	secrets := []string{"hook-token-4711", "hook-hmac-secret-4711", "ding-token-4711", "SEC-ding-sign-4711", "smtp-password-4711"}
	auth := []string{"Authorization", "Bearer " + nodeToken}
	check := func(id string, values []string) {
		t.Helper()
		l.set(values...)
		run := n.runJob(http.DefaultClient, id, `{"handler":"leak_channel_secrets","max_attempts":1}`, connecthub.StatusFailure)
		_, log := n.get(http.DefaultClient, "/api/v1/runs/"+run.ID+"/log", auth...)
		for _, v := range values {
			for where, text := range map[string]string{"log": log, "error": run.Error, "message": run.Message} {
				if strings.Contains(text, v) || strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(v))) {
					t.Errorf("run %s: the %s shows channel secret %q:\n%s", id, where, v, text)
				}
			}
		}
		if !strings.Contains(log, "raw ******") || !strings.Contains(run.Error, "upstream refused ******") {
			t.Errorf("run %s: log %q, error %q: the secrets were not replaced by the mask", id, log, run.Error)
		}
	}
	check("leak-created", secrets)

	// A secret changed while the server runs is masked from the next run on.
	if code, body := n.api("PATCH", "/api/v1/channels/hook", `{"secret":"hook-hmac-rotated-0815"}`); code != http.StatusOK {
		t.Fatalf("PATCH /channels/hook = %d %v", code, body)
	}
	check("leak-rotated", []string{"hook-hmac-rotated-0815"})
}
