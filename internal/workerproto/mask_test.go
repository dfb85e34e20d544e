package workerproto_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/runlog/masktest"
	"github.com/connecthub/connecthub/protocol"
)

// heldWithSecret returns an env in which node w1 holds attempt 1 of a run
// whose job's secret_cfg holds secret.
func heldWithSecret(t *testing.T, secret string) (*env, string) {
	t.Helper()
	e := newEnv(t)
	e.register(t, "w1", "h", connecthub.DefaultQueue)
	token, err := e.keys.EncryptJSON(map[string]any{"api_key": secret})
	if err != nil {
		t.Fatal(err)
	}
	id := e.run(t, "j", "h", connecthub.DefaultQueue, func(j *connecthub.Job) { j.SecretCfg = token })
	if claimed := e.claim(t, "w1"); len(claimed) != 1 || claimed[0].ID != id {
		t.Fatalf("claimed %+v, want %s", claimed, id)
	}
	return e, id
}

// reportAll sends text as a foreign worker would: as a log line, then as
// the message, error and traceback of a FAILURE whose result holds it in a
// nested string, and returns what the server stored for each field.
func reportAll(t *testing.T, e *env, id, text string) map[string]string {
	t.Helper()
	ctx := t.Context()
	if err := e.svc.AppendLog(ctx, id, protocol.LogRequest{Name: "w1", Attempt: 1, Lines: []string{text}}, false); err != nil {
		t.Fatal(err)
	}
	result, err := json.Marshal(map[string]any{"response": map[string]any{"items": []any{text}}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.svc.Complete(ctx, id, protocol.CompleteRequest{Name: "w1", Attempt: 1, Status: protocol.CompleteFailure,
		Message: text, Error: text, Traceback: text, Result: result})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.st.RunLogRead(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	var stored struct {
		Response struct{ Items []string }
	}
	if err := json.Unmarshal(r.Result, &stored); err != nil || len(stored.Response.Items) != 1 {
		t.Fatalf("stored result %s: %v", r.Result, err)
	}
	return map[string]string{
		"log": strings.TrimSuffix(got.Data, "\n"), "message": r.Message, "error": r.Error,
		"traceback": r.Traceback, "result": stored.Response.Items[0],
	}
}

// TestForeignWorkerCannotStoreASecret: whatever a worker sends, in every
// field and every encoded form, the server masks the run's secrets and its
// own before storing it.
func TestForeignWorkerCannotStoreASecret(t *testing.T) {
	t.Parallel()
	for _, form := range masktest.Forms {
		t.Run(form.Name, func(t *testing.T) {
			t.Parallel()
			e, id := heldWithSecret(t, masktest.Secret)
			for field, stored := range reportAll(t, e, id, masktest.Text(form, masktest.Secret)) {
				if problem := masktest.Check(form, masktest.Secret, stored); problem != "" {
					t.Errorf("%s: %s", field, problem)
				}
			}
		})
	}
	t.Run("the server's own secret", func(t *testing.T) {
		t.Parallel()
		e, id := heldWithSecret(t, theSecret)
		for field, stored := range reportAll(t, e, id, "admin token "+serverToken) {
			if stored != "admin token ******" {
				t.Errorf("%s = %q, want the server's token masked", field, stored)
			}
		}
	})
	t.Run("a 3-character secret is not masked", func(t *testing.T) {
		t.Parallel()
		e, id := heldWithSecret(t, "abc")
		for field, stored := range reportAll(t, e, id, "pin abc") {
			if stored != "pin abc" {
				t.Errorf("%s = %q, want it as sent (secrets under 4 characters are not masked)", field, stored)
			}
		}
	})
}
