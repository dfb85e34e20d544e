package store

import (
	"slices"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

func TestDecideFire(t *testing.T) {
	t.Parallel()
	slot := func(i int) time.Time { return now.Add(time.Duration(i) * time.Minute) }
	type want struct {
		statuses                      []connecthub.RunStatus // of the rows to write, in order
		replace                       bool
		inserted, skipped, duplicates int
	}
	Q, S, C := connecthub.StatusQueued, connecthub.StatusSkipped, connecthub.StatusCanceled
	tests := []struct {
		name        string
		concurrency string
		busy        bool
		slots       []int // minutes after now, repeated = same slot
		taken       []int
		want        want
	}{
		{"allow queues every slot", connecthub.ConcurrencyAllow, true, []int{0, 1, 2}, nil, want{[]connecthub.RunStatus{Q, Q, Q}, false, 3, 0, 0}},
		{"forbid idle: first queued, rest skipped", connecthub.ConcurrencyForbid, false, []int{0, 1, 2}, nil, want{[]connecthub.RunStatus{Q, S, S}, false, 1, 2, 0}},
		{"empty means forbid", "", true, []int{0}, nil, want{[]connecthub.RunStatus{S}, false, 0, 1, 0}},
		{"replace idle: earlier slots canceled", connecthub.ConcurrencyReplace, false, []int{0, 1, 2}, nil, want{[]connecthub.RunStatus{C, C, Q}, true, 3, 0, 0}},
		{"replace busy: database canceled", connecthub.ConcurrencyReplace, true, []int{0}, nil, want{[]connecthub.RunStatus{Q}, true, 1, 0, 0}},
		{"replace one slot idle", connecthub.ConcurrencyReplace, false, []int{0}, nil, want{[]connecthub.RunStatus{Q}, false, 1, 0, 0}},
		{"taken and repeated slots are duplicates", connecthub.ConcurrencyAllow, false, []int{0, 1, 1, 2}, []int{0}, want{[]connecthub.RunStatus{Q, Q}, false, 2, 0, 2}},
		{"a duplicate does not make the job busy", connecthub.ConcurrencyForbid, false, []int{0, 1}, []int{0}, want{[]connecthub.RunStatus{Q}, false, 1, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &JobFireParams{JobID: "j", Concurrency: tt.concurrency, Now: now.Add(time.Hour)}
			for _, m := range tt.slots {
				f.Runs = append(f.Runs, &connecthub.Run{Queue: "q", CreatedAt: now, ScheduledFor: slot(m), Attempt: 1, MaxAttempts: 1})
			}
			rows, err := PrepareFires([]JobFireParams{*f})
			if err != nil {
				t.Fatal(err)
			}
			taken := map[FireSlot]bool{}
			for _, m := range tt.taken {
				taken[SlotOf("j", slot(m))] = true
			}
			var (
				ids IDGen
				res JobFireResult
			)
			write, replace, err := DecideFire(f, rows[0], taken, tt.busy, &ids, &res)
			if err != nil {
				t.Fatal(err)
			}
			var statuses []connecthub.RunStatus
			var written []string
			for _, r := range write {
				statuses = append(statuses, r.Status)
				written = append(written, r.ID)
				if r.ID == "" {
					t.Errorf("a run to write has no id")
				}
				switch r.Status {
				case S:
					if r.FinishedAt == nil || !r.FinishedAt.Equal(f.Now) || r.Message != SkippedMessage {
						t.Errorf("skipped run: finished %v, message %q", r.FinishedAt, r.Message)
					}
				case C:
					if r.FinishedAt == nil || r.Error != connecthub.ReasonCanceled || r.Message != ReplacedMessage {
						t.Errorf("replaced run: finished %v, error %q, message %q", r.FinishedAt, r.Error, r.Message)
					}
				}
			}
			got := want{statuses, replace, res.Inserted, res.Skipped, res.Duplicates}
			if !slices.Equal(got.statuses, tt.want.statuses) || got.replace != tt.want.replace ||
				got.inserted != tt.want.inserted || got.skipped != tt.want.skipped || got.duplicates != tt.want.duplicates {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if !slices.Equal(res.RunIDs, written) {
				t.Errorf("RunIDs = %v, want the written ids %v", res.RunIDs, written)
			}
			for _, r := range write {
				if !taken[SlotOf("j", r.ScheduledFor)] {
					t.Errorf("slot %v not marked taken", r.ScheduledFor)
				}
			}
		})
	}
}
