package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/internal/runlog/masktest"
)

// remoteWorker is a foreign worker speaking the protocol over HTTP with
// the client package: it cuts its log wherever the test says, as a worker
// in another language that sends raw chunks may.
type remoteWorker struct {
	t       *testing.T
	c       *client.Client
	name    string
	run     string
	attempt int
}

func newRemoteWorker(t *testing.T, n *node, name string) *remoteWorker {
	t.Helper()
	c, err := client.New(n.url, nodeToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &remoteWorker{t: t, c: c, name: name}
	if _, err := c.Register(t.Context(), client.RegisterRequest{Name: name, Queues: []string{connecthub.DefaultQueue},
		Handlers: []connecthub.NodeHandler{{Name: "ext.split", SecretKeys: []string{"api_key"}}}, MaxConcurrency: 1}); err != nil {
		t.Fatal(err)
	}
	return w
}

// claim takes the run that n runs now for job, and checks it carries the secret.
func (w *remoteWorker) claim(n *node, job string) {
	w.t.Helper()
	if code, body := n.api("POST", "/api/v1/jobs/"+job+"/run", ""); code != http.StatusAccepted {
		w.t.Fatalf("run %s = %d %v", job, code, body)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		resp, err := w.c.Claim(w.t.Context(), client.ClaimRequest{Name: w.name, Max: 1, Wait: connecthub.Duration(time.Second)})
		if err != nil {
			w.t.Fatal(err)
		}
		if len(resp.Runs) == 1 {
			r := resp.Runs[0]
			if r.Secrets["api_key"] != masktest.Secret {
				w.t.Fatalf("the claim carries secrets %v", r.Secrets)
			}
			w.run, w.attempt = r.ID, r.Attempt
			return
		}
	}
	w.t.Fatal("the run was never claimed")
}

func (w *remoteWorker) send(chunk string) {
	w.t.Helper()
	if err := w.c.AppendRunLog(w.t.Context(), w.run, client.LogRequest{Name: w.name, Attempt: w.attempt, Chunk: chunk}); err != nil {
		w.t.Fatalf("log %q: %v", chunk, err)
	}
}

func (w *remoteWorker) complete() {
	w.t.Helper()
	if _, err := w.c.CompleteRun(w.t.Context(), w.run, client.CompleteRequest{Name: w.name, Attempt: w.attempt, Status: client.CompleteSuccess}); err != nil {
		w.t.Fatal(err)
	}
}

// TestForeignWorkerSplitsASecret sends, for every form the masker masks,
// a line holding the run's secret cut into two log requests at every
// position (between characters: a JSON string cannot carry half of one), and checks that the stored log masks each line as if it had
// come whole. A line cut across a restart of the server is masked too, and
// the held end of an unfinished last line is stored at completion.
func TestForeignWorkerSplitsASecret(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, t.TempDir())
	// The worker neither heartbeats nor keeps its node alive: leases and
	// node liveness outlast the test even on a loaded machine.
	cfg.LeaseTTL, cfg.NodeDeadAfter = time.Hour, time.Hour
	n, stop := startStoppableNode(t, cfg)
	w := newRemoteWorker(t, n, "ext-1")
	if code, body := n.api("POST", "/api/v1/jobs", `{"id":"split","handler":"ext.split","secret_cfg":{"api_key":`+
		jsonString(masktest.Secret)+`}}`); code != http.StatusCreated {
		t.Fatalf("create job = %d %v", code, body)
	}
	w.claim(n, "split")

	type sent struct {
		form masktest.Form
		cut  int
	}
	var lines []sent
	for _, form := range masktest.Forms {
		if !splitForms[form.Name] {
			continue
		}
		text := masktest.Text(form, masktest.Secret)
		for cut := 1; cut < len(text); cut++ {
			if !utf8.RuneStart(text[cut]) {
				continue // JSON carries characters, not bytes: no worker can cut one
			}
			w.send(text[:cut])
			w.send(text[cut:] + "\n")
			lines = append(lines, sent{form, cut})
		}
	}
	// A cut across a restart: the held end is in the database, not in the
	// memory of the process that received it.
	raw := masktest.Text(masktest.Forms[0], masktest.Secret)
	cut := len(masktest.Before) + len(masktest.Secret)/2
	w.send(raw[:cut])
	stop()
	n = startNode(t, cfg)
	w.c, _ = client.New(n.url, nodeToken, nil)
	w.send(raw[cut:] + "\n")
	lines = append(lines, sent{masktest.Forms[0], -cut})
	// An unfinished last line is stored when the attempt ends.
	w.send("last words " + masktest.Secret[:6])
	w.complete()

	_, log := n.get(http.DefaultClient, "/api/v1/runs/"+w.run+"/log", "Authorization", "Bearer "+nodeToken)
	got := strings.Split(log, "\n")
	if len(got) != len(lines)+1 {
		t.Fatalf("the log has %d lines, want %d:\n%s", len(got), len(lines)+1, log)
	}
	for i, l := range lines {
		if problem := masktest.Check(l.form, masktest.Secret, got[i]); problem != "" {
			t.Errorf("%s cut at %d: %s", l.form.Name, l.cut, problem)
		}
	}
	if last := got[len(lines)]; last != "last words "+masktest.Secret[:6] {
		t.Errorf("the unfinished last line = %q, want it stored at completion", last)
	}
	if strings.Contains(log, masktest.Secret) {
		t.Error("the secret is in the log in clear")
	}
}

// splitForms are the forms cut at every position: one of each encoding
// (the masker's own tests cover every form at every cut), so that the
// HTTP round trips stay few.
var splitForms = map[string]bool{
	"raw": true, "JSON-escaped": true, "URL query lower hex": true, "base64 url unpadded": true,
	"base64 embedded at offset 2 (Basic auth)": true, "hex upper": true,
}

// jsonString quotes s as a JSON string.
func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}
