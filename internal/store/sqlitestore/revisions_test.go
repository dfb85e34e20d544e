package sqlitestore

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

// TestRevisionBaseline: a job from before revisions were kept (no
// revision rows, as a database upgraded to version 12 has) gets its state
// recorded as a baseline revision before its first update is.
func TestRevisionBaseline(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	ctx := t.Context()
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	j := &connecthub.Job{ID: "legacy", Description: "as it was", Enabled: true, Timezone: "UTC", Handler: "noop",
		PublicCfg: json.RawMessage(`{}`), SecretCfg: "tok", SecretKeys: []string{"k"}, HasSecret: true, MaxAttempts: 1,
		Concurrency: connecthub.ConcurrencyForbid, Misfire: connecthub.MisfireSkip, Queue: "default", CreatedAt: created, UpdatedAt: created}
	if err := s.JobCreate(ctx, j); err != nil {
		t.Fatal(err)
	}
	// What an upgraded database looks like: the job, no revisions.
	for _, q := range []string{`DELETE FROM job_revisions`, `DELETE FROM job_revision_heads`} {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.JobUpdate(ctx, "legacy", func(j *connecthub.Job) error { j.Description = "changed"; return nil }); err != nil {
		t.Fatal(err)
	}
	revs, _, err := s.RevisionList(ctx, connecthub.RevisionFilter{JobID: "legacy"})
	if err != nil || len(revs) != 2 {
		t.Fatalf("RevisionList = %v, %v; want the baseline and the update", revs, err)
	}
	base, upd := revs[1], revs[0]
	if base.Revision != 1 || base.Action != connecthub.RevisionBaseline || base.Actor != connecthub.ActorSystem ||
		!base.At.Equal(created) || !json.Valid(base.Definition) || !containsJSON(base.Definition, `"description":"as it was"`) {
		t.Errorf("baseline = %+v (%s)", base, base.Definition)
	}
	if upd.Revision != 2 || upd.Action != connecthub.RevisionUpdate || !containsJSON(upd.Definition, `"description":"changed"`) {
		t.Errorf("update = %+v (%s)", upd, upd.Definition)
	}
}

func containsJSON(raw json.RawMessage, part string) bool {
	return json.Valid(raw) && strings.Contains(string(raw), part)
}
