package notify

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/notify/notifytest"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/store/pgstore"
	"github.com/connecthub/connecthub/internal/testpg"
)

// TestThreeReplicasSendEachNotificationOnce runs three senders, each on a
// store of its own (as three serve replicas have), on one PostgreSQL
// database, and checks that the receiver gets every notification exactly
// once.
func TestThreeReplicasSendEachNotificationOnce(t *testing.T) {
	t.Parallel()
	url := testpg.URL(t)
	kr := testKeyring(t)
	hook := notifytest.Webhook(t, "wh-secret")
	stores := make([]store.Store, 3)
	for i := range stores {
		st, err := pgstore.Open(t.Context(), url, pgstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		stores[i] = st
	}
	svc := &Service{Store: stores[0], Keyring: kr}
	u, sec := hook.URL+"/hook", "wh-secret"
	if _, err := svc.CreateChannel(t.Context(), ChannelInput{Name: "hook", Type: connecthub.ChannelWebhook, URL: &u, Secret: &sec}); err != nil {
		t.Fatal(err)
	}
	const total = 60
	now := time.Now()
	var ns []*connecthub.Notification
	for i := range total {
		ns = append(ns, &connecthub.Notification{Channel: "hook", Event: connecthub.EventFailure, NextAttemptAt: now, CreatedAt: now,
			Alert: connecthub.Alert{Event: connecthub.EventFailure, JobID: "j", RunID: fmt.Sprintf("run-%02d", i)}})
	}
	for i, st := range stores {
		startServices(t, st, kr, fmt.Sprintf("replica-%d", i+1))
	}
	if err := stores[0].NotificationInsert(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every notification", func() bool {
		sent, _, _ := stores[1].NotificationList(t.Context(), connecthub.NotificationFilter{Status: connecthub.DeliverySent, Limit: 100})
		return len(sent) == total
	})
	seen := map[string]int{}
	for _, m := range hook.Messages() {
		var body struct{ Alert connecthub.Alert }
		if err := json.Unmarshal(m.Raw, &body); err != nil {
			t.Fatal(err)
		}
		seen[body.Alert.RunID]++
	}
	if len(seen) != total {
		t.Fatalf("the receiver got %d distinct notifications, want %d", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s arrived %d times", id, n)
		}
	}
	if hook.Requests() != total {
		t.Fatalf("the receiver saw %d requests for %d notifications", hook.Requests(), total)
	}
}
