package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

func TestCheckChainWrite(t *testing.T) {
	t.Parallel()
	graph := store.ChainGraph{
		"a": {OnSuccess: []string{"b"}},
		"b": {OnFailure: []string{"c"}},
		"x": {OnSuccess: []string{"y"}, OnFailure: []string{"z"}},
	}
	exists := map[string]bool{"a": true, "b": true, "c": true, "x": true, "y": true, "z": true}
	tests := []struct {
		name             string
		job              connecthub.Job
		code, field, msg string
	}{
		{"no cycle", connecthub.Job{ID: "c", OnSuccess: []string{"x"}}, "", "", ""},
		{"self", connecthub.Job{ID: "n", OnFailure: []string{"n"}}, "chain_cycle", "on_failure", "n → n"},
		{"long cycle", connecthub.Job{ID: "c", OnSuccess: []string{"y"}, OnFailure: []string{"a"}}, "chain_cycle", "on_failure", "c → a → b → c"},
		{"old edges replaced", connecthub.Job{ID: "b", OnSuccess: []string{"x"}}, "", "", ""},
		{"unknown", connecthub.Job{ID: "c", OnSuccess: []string{"ghost"}}, "unknown_job", "on_success", `"ghost"`},
		{"new job names itself and others", connecthub.Job{ID: "new", OnSuccess: []string{"a"}}, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := store.CheckChainWrite(&tc.job, graph, exists)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
				return
			}
			var e *connecthub.Error
			if !errors.As(err, &e) || e.Code != tc.code || e.Field != tc.field || !strings.Contains(e.Message, tc.msg) {
				t.Fatalf("err = %#v, want %s on %s naming %q", err, tc.code, tc.field, tc.msg)
			}
		})
	}
}

func TestDecideChain(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)
	end := &store.ChainEnd{RunID: "p", JobID: "up", Status: connecthub.StatusSuccess, At: at}
	tests := []struct {
		concurrency string
		busy        bool
		status      connecthub.RunStatus
		replace     bool
	}{
		{connecthub.ConcurrencyForbid, false, connecthub.StatusQueued, false},
		{connecthub.ConcurrencyForbid, true, connecthub.StatusSkipped, false},
		{"", true, connecthub.StatusSkipped, false},
		{connecthub.ConcurrencyAllow, true, connecthub.StatusQueued, false},
		{connecthub.ConcurrencyReplace, true, connecthub.StatusQueued, true},
		{connecthub.ConcurrencyReplace, false, connecthub.StatusQueued, false},
	}
	var ids store.IDGen
	for _, tc := range tests {
		j := &connecthub.Job{ID: "down", Enabled: true, Handler: "noop", Queue: "default", MaxAttempts: 2, Concurrency: tc.concurrency}
		r, replace, err := store.DecideChain(end, j, tc.busy, &ids)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != tc.status || replace != tc.replace || r.ID == "" || r.Trigger != connecthub.TriggerChain {
			t.Errorf("%q busy=%v: %s replace=%v id=%q", tc.concurrency, tc.busy, r.Status, replace, r.ID)
		}
		if (r.Status == connecthub.StatusSkipped) != (r.FinishedAt != nil) {
			t.Errorf("%q busy=%v: finished_at %v for %s", tc.concurrency, tc.busy, r.FinishedAt, r.Status)
		}
	}
}
