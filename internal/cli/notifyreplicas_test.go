package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/notify/notifytest"
)

// TestProcessThreeReplicasNotifyOnce runs three real serve processes on one
// PostgreSQL database, fails a few jobs spread over them, and checks that
// a webhook receiver (which verifies the HMAC signature) gets each failure
// notification exactly once, though every replica runs a sender.
func TestProcessThreeReplicasNotifyOnce(t *testing.T) {
	t.Parallel()
	const secret = "wh-secret-of-the-replicas"
	hook := notifytest.Webhook(t, secret)
	env := replicaEnv(t)
	env["CONNECTHUB_ENABLE_SHELL"] = "true"
	procs := make([]*proc, 3)
	for i := range procs {
		procs[i] = startProc(t, t.TempDir(), env)
	}
	ctx := context.Background()
	c := procs[0].client
	if _, err := c.CreateChannel(ctx, json.RawMessage(fmt.Sprintf(`{"name":"hook","type":"webhook","url":%q,"secret":%q}`,
		hook.URL+"/hook", secret))); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlertRule(ctx, json.RawMessage(`{"name":"failures","match":{"job":"fail-*"},"event":"failure",
		"threshold":"1","channels":["hook"],"quiet_period":"1h"}`)); err != nil {
		t.Fatal(err)
	}
	const jobs = 6
	runs := map[string]bool{}
	for i := range jobs {
		id := fmt.Sprintf("fail-%d", i)
		p := procs[i%len(procs)]
		if _, err := p.client.CreateJob(ctx, []byte(`{"id":"`+id+`","handler":"shell","max_attempts":1,`+
			`"public_cfg":{"command":"/bin/sh","args":["-c","exit 3"]}}`)); err != nil {
			t.Fatal(err)
		}
		r, err := p.client.RunJob(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		runs[r.ID] = true
	}
	waitFor(t, "every failure notification sent", 60*time.Second, func() bool {
		list, err := procs[1].client.ListNotifications(ctx, url.Values{"status": {string(connecthub.DeliverySent)}, "event": {"failure"}})
		return err == nil && len(list.Notifications) == jobs
	})
	seen := map[string]int{}
	for _, m := range hook.Messages() {
		var body struct{ Alert connecthub.Alert }
		if err := json.Unmarshal(m.Raw, &body); err != nil {
			t.Fatal(err)
		}
		if !runs[body.Alert.RunID] {
			t.Errorf("a notification for run %q, which the test did not start", body.Alert.RunID)
		}
		seen[body.Alert.RunID]++
	}
	for id := range runs {
		if seen[id] != 1 {
			t.Errorf("run %s was notified %d times, want once", id, seen[id])
		}
	}
	if hook.Requests() != jobs {
		t.Errorf("the receiver saw %d requests for %d notifications", hook.Requests(), jobs)
	}
}
