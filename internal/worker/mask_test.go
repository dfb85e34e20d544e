package worker

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/runlog/masktest"
)

// serverToken stands for the server's own secrets (its admin token).
const serverToken = "server-admin-token-0123456789"

// echoRuns runs two jobs whose secret_cfg holds secret on a LocalSource
// that also masks serverToken: one whose handler logs text and returns it
// as its message and inside its result, one whose handler logs it and
// fails with it as its error. It returns what was stored for each field.
func echoRuns(t *testing.T, secret, text string) map[string]string {
	t.Helper()
	h := newHarness(t)
	h.handle(t, "echo", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
		task.Log.Info(text)
		return &handler.Result{Message: text, Data: map[string]any{"response": map[string]any{"items": []string{text}}}}, nil
	})
	h.handle(t, "echo-fail", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
		task.Log.Info(text)
		return nil, errors.New(text)
	})
	token, err := h.keys.EncryptJSON(map[string]any{"api_key": secret})
	if err != nil {
		t.Fatal(err)
	}
	withSecret := func(j *connecthub.Job) { j.SecretCfg, j.HasSecret, j.SecretKeys = token, true, []string{"api_key"} }
	ok := h.enqueue(t, h.job(t, "echo.job", "echo", withSecret), 1)[0]
	fail := h.enqueue(t, h.job(t, "echo-fail.job", "echo-fail", withSecret), 1)[0]
	src := NewLocalSource(h.st, h.keys, "node-a", []string{connecthub.DefaultQueue}, 30*time.Second, nil, WithServerSecrets([]string{serverToken}))
	t.Cleanup(func() { _ = src.Close() })
	h.start(t, "node-a", src, nil)

	okRun := h.waitStatus(t, ok, connecthub.StatusSuccess)
	failRun := h.waitStatus(t, fail, connecthub.StatusFailure)
	var result struct {
		Response struct{ Items []string }
	}
	if err := json.Unmarshal(okRun.Result, &result); err != nil || len(result.Response.Items) != 1 {
		t.Fatalf("stored result %s: %v", okRun.Result, err)
	}
	return map[string]string{
		"log":             lineBody(t, h.runLog(t, ok)),
		"log of the fail": lineBody(t, h.runLog(t, fail)),
		"message":         okRun.Message,
		"error":           failRun.Error,
		"result":          result.Response.Items[0],
	}
}

// lineBody returns the text of a log of one line, without its time stamp
// and level.
func lineBody(t *testing.T, log string) string {
	t.Helper()
	stamp, rest, _ := strings.Cut(strings.TrimSuffix(log, "\n"), " ")
	level, body, _ := strings.Cut(rest, " ")
	if stamp == "" || level != "INFO" || strings.Contains(body, "\n") {
		t.Fatalf("log %q: want one INFO line", log)
	}
	return body
}

// TestInProcessRunCannotStoreASecret: whatever a handler prints or
// returns, in every encoded form, the in-process worker masks the run's
// secrets and the server's own before the text is stored. (An in-process
// traceback is the goroutine's stack, which holds no handler text; it is
// masked all the same.)
func TestInProcessRunCannotStoreASecret(t *testing.T) {
	t.Parallel()
	for _, form := range masktest.Forms {
		t.Run(form.Name, func(t *testing.T) {
			t.Parallel()
			for field, stored := range echoRuns(t, masktest.Secret, masktest.Text(form, masktest.Secret)) {
				if problem := masktest.Check(form, masktest.Secret, stored); problem != "" {
					t.Errorf("%s: %s", field, problem)
				}
			}
		})
	}
	t.Run("the server's own secret", func(t *testing.T) {
		t.Parallel()
		for field, stored := range echoRuns(t, "s3cr3t-value", "admin token "+serverToken) {
			if stored != "admin token ******" {
				t.Errorf("%s = %q, want the server's token masked", field, stored)
			}
		}
	})
	t.Run("a 3-character secret is not masked", func(t *testing.T) {
		t.Parallel()
		for field, stored := range echoRuns(t, "abc", "pin abc") {
			if stored != "pin abc" {
				t.Errorf("%s = %q, want it as printed (secrets under 4 characters are not masked)", field, stored)
			}
		}
	})
}
