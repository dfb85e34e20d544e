package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/notify/notifytest"
)

// failing is a handler that always fails, with a secret-looking line the
// masker must have cleaned before any message shows it.
var failing = handler.Spec{Name: "always_fail", Func: func(ctx context.Context, t *handler.Task) (*handler.Result, error) {
	return nil, errors.New("upstream answered 502\nretry later")
}}

func (n *node) api(method, path, body string) (int, map[string]any) {
	n.t.Helper()
	resp, text := n.send(http.DefaultClient, n.request(method, path, body, "Authorization", "Bearer "+nodeToken, "Content-Type", "application/json"))
	var m map[string]any
	_ = json.Unmarshal([]byte(text), &m)
	return resp.StatusCode, m
}

// TestFailedRunReachesDingTalk runs the whole path on a real serve: a
// channel and a rule made through the API, a job that fails, the DingTalk
// receiver that checks the signature, the delivery log, and "send test".
func TestFailedRunReachesDingTalk(t *testing.T) {
	t.Parallel()
	ding := notifytest.DingTalk(t, "tok-0123", "SEC-secret-0123")
	cfg := testConfig(t, t.TempDir())
	cfg.PublicURL = "https://hub.example.com"
	n := startNode(t, cfg, failing)

	code, body := n.api("POST", "/api/v1/channels", `{"name":"ops-dingtalk","type":"dingtalk","language":"zh-CN",
		"url":"`+ding.URL+`/robot/send?access_token=tok-0123","secret":"SEC-secret-0123"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST /channels = %d %v", code, body)
	}
	_, text := n.send(http.DefaultClient, n.request("GET", "/api/v1/channels/ops-dingtalk", "", "Authorization", "Bearer "+nodeToken))
	if strings.Contains(text, "tok-0123") || strings.Contains(text, "SEC-secret") || !strings.Contains(text, `"has_secret":true`) {
		t.Fatalf("a channel read shows its secrets or hides that it has one: %s", text)
	}
	for _, bad := range []struct{ body, field string }{
		{`{"name":"x","type":"pager","url":"https://x"}`, "type"},
		{`{"name":"x","type":"dingtalk","url":"not a url"}`, "url"},
		{`{"name":"bad name!","type":"dingtalk","url":"https://x"}`, "name"},
		{`{"name":"m","type":"email","smtp":{"host":"smtp.example.com","from":"nope","to":["a@example.com"]}}`, "smtp.from"},
	} {
		code, body := n.api("POST", "/api/v1/channels", bad.body)
		if code != http.StatusBadRequest || !strings.Contains(body["error"].(map[string]any)["field"].(string), bad.field) {
			t.Errorf("POST /channels %s = %d %v, want 400 naming %s", bad.body, code, body, bad.field)
		}
	}
	code, body = n.api("POST", "/api/v1/alert-rules", `{"name":"payroll failures","match":{"job":"payroll.*"},
		"event":"failure","threshold":"1","channels":["nope"]}`)
	if code != http.StatusBadRequest {
		t.Fatalf("a rule naming an unknown channel = %d %v", code, body)
	}
	code, body = n.api("POST", "/api/v1/alert-rules", `{"name":"payroll failures","match":{"job":"payroll.*"},
		"event":"failure","threshold":"1","channels":["ops-dingtalk"],"quiet_period":"10m"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST /alert-rules = %d %v", code, body)
	}
	if code, body := n.api("POST", "/api/v1/jobs", `{"id":"payroll.monthly","handler":"always_fail"}`); code != http.StatusCreated {
		t.Fatalf("POST /jobs = %d %v", code, body)
	}
	code, body = n.api("POST", "/api/v1/jobs/payroll.monthly/run", "")
	if code != http.StatusCreated && code != http.StatusAccepted {
		t.Fatalf("run = %d %v", code, body)
	}
	select {
	case <-ding.Got:
	case <-time.After(30 * time.Second):
		t.Fatalf("the failure never reached DingTalk; receiver saw %d requests\n%s", ding.Requests(), n.logs.String())
	}
	msg := ding.Messages()[0]
	md := msg.Body["markdown"].(map[string]any)["text"].(string)
	for _, want := range []string{"任务 payroll.monthly 执行失败", "upstream answered 502", "https://hub.example.com/admin/runs/"} {
		if !strings.Contains(md, want) {
			t.Errorf("the message lacks %q:\n%s", want, md)
		}
	}
	var log struct{ Notifications []connecthub.Notification }
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, text := n.send(http.DefaultClient, n.request("GET", "/api/v1/notifications?event=failure", "", "Authorization", "Bearer "+nodeToken))
		_ = json.Unmarshal([]byte(text), &log)
		if len(log.Notifications) == 1 && log.Notifications[0].Status == connecthub.DeliverySent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the delivery log never showed the notification sent: %s", text)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := log.Notifications[0]; got.Attempts != 1 || got.History[0].Response != `HTTP 200 {"errcode":0,"errmsg":"ok"}` {
		t.Fatalf("delivery = %+v", got)
	}

	code, body = n.api("POST", "/api/v1/channels/ops-dingtalk/test", "")
	if code != http.StatusAccepted {
		t.Fatalf("send test = %d %v", code, body)
	}
	select {
	case <-ding.Got:
	case <-time.After(30 * time.Second):
		t.Fatal("the test message never arrived")
	}
	if md := ding.Messages()[1].Body["markdown"].(map[string]any)["text"].(string); !strings.Contains(md, "测试消息") {
		t.Fatalf("test message: %s", md)
	}
	if code, _ := n.api("DELETE", "/api/v1/channels/ops-dingtalk", ""); code != http.StatusConflict {
		t.Fatalf("deleting a channel a rule uses = %d, want 409", code)
	}
	_, metrics := n.get(http.DefaultClient, "/metrics")
	if !strings.Contains(metrics, `connecthub_notifications_total{channel="ops-dingtalk",event="failure",status="sent"} 1`) {
		t.Errorf("metrics lack the delivery:\n%s", grepLines(metrics, "connecthub_notifications"))
	}
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestFailureToDingTalkLatency measures how long a failed run takes to
// reach a DingTalk-style receiver on a real serve with the default
// intervals: from the run's finished_at to the request's arrival. It
// asserts that every alert arrives, and logs the latencies rather than
// holding them to a bound (a loaded machine must not make it flaky).
// docs/notifications.md shows how to run it with more rounds:
//
//	CONNECTHUB_NOTIFY_ROUNDS=20 go test -run TestFailureToDingTalkLatency -v ./internal/server/
func TestFailureToDingTalkLatency(t *testing.T) {
	t.Parallel()
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("CONNECTHUB_NOTIFY_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	ding := notifytest.DingTalk(t, "tok", "SEC-latency")
	n := startNode(t, testConfig(t, t.TempDir()), failing)
	if code, body := n.api("POST", "/api/v1/channels", `{"name":"ding","type":"dingtalk","url":"`+ding.URL+`/robot/send?access_token=tok","secret":"SEC-latency"}`); code != http.StatusCreated {
		t.Fatalf("channel: %d %v", code, body)
	}
	if code, body := n.api("POST", "/api/v1/alert-rules", `{"name":"all failures","event":"failure","channels":["ding"],"quiet_period":"0s"}`); code != http.StatusCreated {
		t.Fatalf("rule: %d %v", code, body)
	}
	var worst time.Duration
	var all []time.Duration
	for i := range rounds {
		id := fmt.Sprintf("latency.%d", i)
		if code, body := n.api("POST", "/api/v1/jobs", `{"id":"`+id+`","handler":"always_fail"}`); code != http.StatusCreated {
			t.Fatalf("job: %d %v", code, body)
		}
		_, run := n.api("POST", "/api/v1/jobs/"+id+"/run", "")
		select {
		case <-ding.Got:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: the alert never arrived", i)
		}
		arrived := ding.Messages()[i].At
		_, got := n.api("GET", "/api/v1/runs/"+run["id"].(string), "")
		finished, err := time.Parse(time.RFC3339Nano, got["finished_at"].(string))
		if err != nil {
			t.Fatalf("run %v: %v", got, err)
		}
		d := arrived.Sub(finished)
		all = append(all, d)
		worst = max(worst, d)
	}
	t.Logf("failed run → DingTalk receiver, %d rounds: %v (worst %v)", rounds, all, worst)
}
