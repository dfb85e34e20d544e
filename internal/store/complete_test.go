package store

import (
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

func TestDecideCompletion(t *testing.T) {
	t.Parallel()
	started := now.Add(-time.Minute)
	retryAt := now.Add(time.Hour)
	held := func(attempt, max int, cancel bool) *HeldRun {
		return &HeldRun{Attempt: attempt, MaxAttempts: max, History: []byte("[]"), StartedAt: &started, CancelRequested: cancel}
	}
	out := func(status connecthub.RunStatus, consume bool, errText string, at time.Time) *RunOutcome {
		return &RunOutcome{ID: "r", Node: "n", Status: status, Error: errText, Now: now, RetryAt: at, ConsumeAttempt: consume}
	}
	Q := connecthub.StatusQueued
	tests := []struct {
		name string
		o    *RunOutcome
		cur  *HeldRun
		want Completion // History is checked apart
	}{
		{"terminal as said", out(connecthub.StatusSuccess, false, "", time.Time{}), held(1, 3, true), Completion{Status: connecthub.StatusSuccess}},
		{"retry", out(Q, true, "boom", retryAt), held(1, 3, false), Completion{Status: Q, Error: "boom", Retry: true, AvailableAt: retryAt}},
		{"retry without RetryAt is at once", out(Q, true, "boom", time.Time{}), held(1, 3, false), Completion{Status: Q, Error: "boom", Retry: true, AvailableAt: now}},
		{"retry on the last attempt fails", out(Q, true, "boom", retryAt), held(3, 3, false), Completion{Status: connecthub.StatusFailure, Error: "boom"}},
		{"retry of a canceled run", out(Q, true, "", retryAt), held(1, 3, true), Completion{Status: connecthub.StatusCanceled, Error: connecthub.ReasonCanceled}},
		{"hand-back of a canceled run keeps its error", out(Q, false, "shutdown", time.Time{}), held(1, 3, true), Completion{Status: connecthub.StatusCanceled, Error: "shutdown"}},
		{"hand-back", out(Q, false, "ignored", time.Time{}), held(3, 3, false), Completion{Status: Q}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecideCompletion(tt.o, tt.cur)
			if err != nil {
				t.Fatal(err)
			}
			history := got.History
			got.History = ""
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if !tt.want.Retry {
				if history != "" {
					t.Errorf("history %q written without a retry", history)
				}
				return
			}
			list, err := DecodeAttempts(history)
			if err != nil || len(list) != 1 {
				t.Fatalf("history %q: %v", history, err)
			}
			a := list[0]
			if a.Attempt != tt.cur.Attempt || a.Node != "n" || a.Status != connecthub.StatusFailure || a.Error != tt.o.Error ||
				!a.FinishedAt.Equal(UTCMicro(now)) || a.StartedAt == nil || !a.StartedAt.Equal(UTCMicro(started)) {
				t.Errorf("history entry %+v", a)
			}
		})
	}
}

func TestDecideRescue(t *testing.T) {
	t.Parallel()
	started := now.Add(-time.Minute)
	tests := []struct {
		name    string
		c       RescueCandidate
		requeue bool
		status  connecthub.RunStatus
	}{
		{"attempts left: re-queued", RescueCandidate{Attempt: 1, MaxAttempts: 2}, true, connecthub.StatusQueued},
		{"last attempt: failure", RescueCandidate{Attempt: 2, MaxAttempts: 2}, false, connecthub.StatusFailure},
		{"cancel requested: canceled", RescueCandidate{Attempt: 1, MaxAttempts: 2, CancelRequested: true}, false, connecthub.StatusCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tt.c
			c.ID, c.Node, c.History, c.StartedAt = "r", "n", []byte(`[{"attempt":0,"status":"FAILURE","finished_at":"2031-01-01T00:00:00Z"}]`), &started
			d, err := DecideRescue(&c, now)
			if err != nil {
				t.Fatal(err)
			}
			if d.Requeue != tt.requeue || d.Status != tt.status || d.Error != connecthub.ReasonWorkerLost {
				t.Fatalf("got %+v, want requeue %v, status %s, error %q", d, tt.requeue, tt.status, connecthub.ReasonWorkerLost)
			}
			if !d.Requeue {
				return
			}
			list, err := DecodeAttempts(d.History)
			if err != nil || len(list) != 2 {
				t.Fatalf("history %q: %v", d.History, err)
			}
			if a := list[1]; a.Attempt != 1 || a.Node != "n" || a.Error != connecthub.ReasonWorkerLost || a.Status != connecthub.StatusFailure || !a.FinishedAt.Equal(UTCMicro(now)) {
				t.Errorf("lost attempt %+v", a)
			}
		})
	}
}
