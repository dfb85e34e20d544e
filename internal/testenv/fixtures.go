package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

// JobStore is the part of a store the job and run fixtures write to.
type JobStore interface {
	JobCreate(ctx context.Context, j *connecthub.Job) error
	RunInsert(ctx context.Context, runs []*connecthub.Run) error
}

// Job creates a valid, enabled job named id for handlerName on the default
// queue, one attempt, no schedule; mod, when not nil, adjusts it before it
// is stored.
func Job(t testing.TB, st JobStore, id, handlerName string, mod func(*connecthub.Job)) *connecthub.Job {
	t.Helper()
	now := time.Now().UTC()
	j := &connecthub.Job{
		ID:            id,
		Enabled:       true,
		Timezone:      "UTC",
		Handler:       handlerName,
		PublicCfg:     []byte(`{}`),
		SecretKeys:    []string{},
		MaxAttempts:   1,
		RetryBackoff:  connecthub.Duration(10 * time.Millisecond),
		Concurrency:   connecthub.ConcurrencyAllow,
		Misfire:       connecthub.MisfireOnce,
		MisfireWindow: connecthub.DefaultMisfireWindow,
		Queue:         connecthub.DefaultQueue,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	if mod != nil {
		mod(j)
	}
	if err := st.JobCreate(context.Background(), j); err != nil {
		t.Fatalf("create job %s: %v", id, err)
	}
	return j
}

// Enqueue inserts n manual runs of j, queued at now, and returns their ids.
func Enqueue(t testing.TB, st JobStore, j *connecthub.Job, now time.Time, n int) []string {
	t.Helper()
	runs := make([]*connecthub.Run, n)
	for i := range runs {
		runs[i] = connecthub.NewRun(j, connecthub.TriggerManual, now, now, "test")
	}
	if err := st.RunInsert(context.Background(), runs); err != nil {
		t.Fatalf("insert runs of %s: %v", j.ID, err)
	}
	ids := make([]string, n)
	for i, r := range runs {
		ids[i] = r.ID
	}
	return ids
}
