package storetest

import (
	"strings"
	"testing"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

func exerciseRequestKey(t *testing.T, newStore NewStoreFunc) {
	keyed := func(t *testing.T, j *connecthub.Job, key string) *connecthub.Run {
		t.Helper()
		r := connecthub.NewRun(j, connecthub.TriggerManual, t0, t0, "alice")
		meta, err := connecthub.RunMeta{RequestKey: key}.Encode()
		if err != nil {
			t.Fatal(err)
		}
		r.Meta = meta
		return r
	}
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"OneRunPerJobAndKey": func(t *testing.T, s store.Store) {
			ctx := t.Context()
			a, b := newJob(t, s, "key-a"), newJob(t, s, "key-b")
			first := keyed(t, a, "req-1")
			if err := s.RunInsert(ctx, []*connecthub.Run{first}); err != nil {
				t.Fatal(err)
			}
			// The same key again for the job: refused, nothing written.
			requireKind(t, s.RunInsert(ctx, []*connecthub.Run{keyed(t, a, "req-1")}), connecthub.KindConflict)
			// Another job, another key, or no key: a run each.
			others := []*connecthub.Run{keyed(t, b, "req-1"), keyed(t, a, "req-2"),
				connecthub.NewRun(a, connecthub.TriggerManual, t0, t0, ""), connecthub.NewRun(a, connecthub.TriggerManual, t0, t0, "")}
			if err := s.RunInsert(ctx, others); err != nil {
				t.Fatal(err)
			}
			got, err := s.RunByRequestKey(ctx, "key-a", "req-1")
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != first.ID || got.JobID != "key-a" {
				t.Errorf("RunByRequestKey(key-a, req-1) = run %s of %s, want %s", got.ID, got.JobID, first.ID)
			}
			if got.Snapshot.SecretCfg != "" {
				t.Error("RunByRequestKey returned the run's secret token")
			}
			if meta, err := connecthub.DecodeRunMeta(got.Meta); err != nil || meta.RequestKey != "req-1" {
				t.Errorf("meta = %s (%v), want request_key req-1", got.Meta, err)
			}
			if got, err := s.RunByRequestKey(ctx, "key-b", "req-1"); err != nil || got.ID != others[0].ID {
				t.Errorf("RunByRequestKey(key-b, req-1) = %v, %v; want run %s", got, err, others[0].ID)
			}
			runs, _, err := s.RunList(ctx, store.RunListParams{JobID: "key-a", Limit: 10})
			if err != nil || len(runs) != 4 {
				t.Errorf("job key-a has %d runs (%v), want 4: the refused insert wrote nothing", len(runs), err)
			}
		},
		"Missing": func(t *testing.T, s store.Store) {
			ctx := t.Context()
			j := newJob(t, s, "key-a")
			if err := s.RunInsert(ctx, []*connecthub.Run{keyed(t, j, "req-1")}); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct{ job, key string }{{"key-a", "req-2"}, {"key-b", "req-1"}, {"key-a", "REQ-1"}} {
				if _, err := s.RunByRequestKey(ctx, c.job, c.key); !connecthub.IsKind(err, connecthub.KindNotFound) {
					t.Errorf("RunByRequestKey(%s, %s) = %v, want not found", c.job, c.key, err)
				}
			}
		},
		"BadKey": func(t *testing.T, s store.Store) {
			for _, key := range []string{"", "a\nb", " a", strings.Repeat("k", connecthub.MaxRequestKey+1)} {
				_, err := s.RunByRequestKey(t.Context(), "key-a", key)
				requireKind(t, err, connecthub.KindInvalid)
			}
		},
	})
}
