package storetest

import (
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

func exerciseQueues(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"PausedQueueGivesNothingUntilResumed": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			other := newJob(t, s, "other", func(j *connecthub.Job) { j.Queue = "other" })
			held := insertRuns(t, s, manualRun(j, t0), manualRun(j, t0))
			free := insertRuns(t, s, manualRun(other, t0))
			created, err := s.QueuePause(t.Context(), connecthub.DefaultQueue, "ops", t0.In(shanghai))
			if err != nil || !created {
				t.Fatalf("QueuePause = %v, %v", created, err)
			}
			again, err := s.QueuePause(t.Context(), connecthub.DefaultQueue, "someone else", t0.Add(1))
			if err != nil || again {
				t.Fatalf("second QueuePause = %v, %v; want false", again, err)
			}
			got := claim(t, s, store.RunClaimParams{Queues: []string{connecthub.DefaultQueue, "other"}, Now: t0})
			checkStrings(t, "claimed with default paused", ids(free), ids(got))
			for _, r := range held {
				checkStatus(t, s, r.ID, connecthub.StatusQueued)
			}
			if cc, ok := s.(store.RunCompleteClaimer); ok {
				_, runs, err := cc.RunCompleteAndClaim(t.Context(), nil, claimDefaults(store.RunClaimParams{Now: t0}))
				if err != nil || len(runs) != 0 {
					t.Errorf("RunCompleteAndClaim from a paused queue = %v, %v", ids(runs), err)
				}
			}
			st, err := s.Stats(t.Context(), t0)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range st.Queues {
				if q.Queue == connecthub.DefaultQueue && q.Depth != 2 {
					t.Errorf("paused queue's depth = %d, want 2", q.Depth)
				}
			}
			list, err := s.QueuePausedList(t.Context())
			if err != nil || len(list) != 1 || list[0].Name != connecthub.DefaultQueue || list[0].PausedBy != "ops" {
				t.Fatalf("QueuePausedList = %+v, %v", list, err)
			}
			checkTime(t, "paused_at", t0, list[0].PausedAt)

			resumed, err := s.QueueResume(t.Context(), connecthub.DefaultQueue)
			if err != nil || !resumed {
				t.Fatalf("QueueResume = %v, %v", resumed, err)
			}
			got = claim(t, s, store.RunClaimParams{Now: t0})
			checkStrings(t, "claimed after resume", ids(held), ids(got))
			if again, err := s.QueueResume(t.Context(), connecthub.DefaultQueue); err != nil || again {
				t.Errorf("second QueueResume = %v, %v; want false", again, err)
			}
			if list, err := s.QueuePausedList(t.Context()); err != nil || list == nil || len(list) != 0 {
				t.Errorf("QueuePausedList after resume = %v, %v; want empty, not nil", list, err)
			}
		},
		"InvalidName": func(t *testing.T, s store.Store) {
			for _, name := range []string{"", "a b", string(make([]byte, 65))} {
				_, err := s.QueuePause(t.Context(), name, "", t0)
				requireKind(t, err, connecthub.KindInvalid)
			}
			_, err := s.QueuePause(t.Context(), "ok", "", time.Time{})
			requireKind(t, err, connecthub.KindInvalid)
			if list, _ := s.QueuePausedList(t.Context()); len(list) != 0 {
				t.Errorf("refused pauses stored %v", list)
			}
		},
	})
}
