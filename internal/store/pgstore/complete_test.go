package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/testpg"
)

// TestCompleteAfterConcurrentChange changes a run in another transaction
// after the completion statement started and before it could lock the run
// (it waits for that transaction's row lock), then commits the change. The
// completion must decide from the row's state after the change: a
// heartbeat or a cancel request does not stop the run from ending, a
// rescue does. (A completion that updated by the ctid it had read, to save
// its row lock, would skip the changed row and lose the outcome; measured
// not faster either, see docs/benchmarks-write-path.md.)
func TestCompleteAfterConcurrentChange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, change string
		combined     bool
		applied      bool
		want         connecthub.RunStatus
	}{
		{"heartbeat", `UPDATE runs SET heartbeat_at = heartbeat_at + interval '1 second', lease_expires_at = lease_expires_at + interval '1 second' WHERE id = $1`, false, true, connecthub.StatusSuccess},
		{"heartbeat, combined with a claim", `UPDATE runs SET heartbeat_at = heartbeat_at + interval '1 second' WHERE id = $1`, true, true, connecthub.StatusSuccess},
		{"cancel request", `UPDATE runs SET cancel_requested = true WHERE id = $1`, false, true, connecthub.StatusSuccess},
		{"rescue", `UPDATE runs SET status = 'QUEUED', node = '', lease_expires_at = NULL WHERE id = $1`, false, false, connecthub.StatusQueued},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := testpg.URL(t)
			s := openURL(t, url, Options{})
			ctx := t.Context()
			j := testJob("j")
			if err := s.JobCreate(ctx, j); err != nil {
				t.Fatal(err)
			}
			r := connecthub.NewRun(j, connecthub.TriggerManual, now0, now0, "")
			if err := s.RunInsert(ctx, []*connecthub.Run{r}); err != nil {
				t.Fatal(err)
			}
			claim := store.RunClaimParams{Node: "n", Queues: []string{connecthub.DefaultQueue}, Max: 1, LeaseTTL: time.Minute, Now: now0}
			if got, err := s.RunClaim(ctx, claim); err != nil || len(got) != 1 {
				t.Fatalf("claim: %d runs, %v", len(got), err)
			}

			// The other writer changes the run and holds its row lock.
			other := connect(t, url)
			tx, err := other.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(context.Background())
			if _, err := tx.Exec(ctx, tc.change, r.ID); err != nil {
				t.Fatal(err)
			}

			outcome := []store.RunOutcome{{ID: r.ID, Node: "n", Status: connecthub.StatusSuccess, Now: now0.Add(time.Second), Attempt: 1}}
			done := make(chan []bool, 1)
			go func() {
				var applied []bool
				var err error
				if tc.combined {
					applied, _, err = s.RunCompleteAndClaim(ctx, outcome, claim)
				} else {
					applied, err = s.RunComplete(ctx, outcome)
				}
				if err != nil {
					t.Errorf("completion: %v", err)
				}
				done <- applied
			}()
			otherPID := other.PgConn().PID()
			observer := connect(t, url)
			eventually(t, "the completion to wait for the other writer", func() bool {
				var n int
				if err := observer.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
					otherPID).Scan(&n); err != nil {
					t.Errorf("pg_stat_activity: %v", err)
				}
				return n > 0
			})
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			applied := <-done
			if len(applied) != 1 || applied[0] != tc.applied {
				t.Fatalf("applied = %v, want [%v]", applied, tc.applied)
			}
			got, err := s.RunGet(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.want {
				t.Fatalf("status = %s, want %s", got.Status, tc.want)
			}
		})
	}
}
