package worker

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/internal/runlog"
	"github.com/connecthub/connecthub/internal/store"
)

// fakeRemote is a scripted RemoteClient.
type fakeRemote struct {
	mu        sync.Mutex
	claims    []client.ClaimRequest
	claimResp []func() (*client.ClaimResponse, error)
	beats     []client.HeartbeatRequest
	beatResp  *client.HeartbeatResponse
	logs      []client.LogRequest
	logErr    error
	completes []client.CompleteRequest
	compErr   error
}

func (f *fakeRemote) Claim(_ context.Context, req client.ClaimRequest) (*client.ClaimResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.claims = append(f.claims, req)
	if len(f.claimResp) == 0 {
		return &client.ClaimResponse{}, nil
	}
	next := f.claimResp[0]
	f.claimResp = f.claimResp[1:]
	return next()
}

func (f *fakeRemote) Heartbeat(_ context.Context, req client.HeartbeatRequest) (*client.HeartbeatResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.beats = append(f.beats, req)
	return f.beatResp, nil
}

func (f *fakeRemote) AppendRunLog(_ context.Context, _ string, req client.LogRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, req)
	return f.logErr
}

func (f *fakeRemote) CompleteRun(_ context.Context, _ string, req client.CompleteRequest) (*connecthub.Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.completes = append(f.completes, req)
	return &connecthub.Run{}, f.compErr
}

func apiErr(status int, code string) error {
	return &client.APIError{Status: status, Code: code, Message: code}
}

var errUnreachable = errors.New("cannot reach ConnectHub at http://x: connection refused")

func newRemote(t *testing.T, f *fakeRemote, rereg func(context.Context) error) *RemoteSource {
	t.Helper()
	s, err := NewRemoteSource(RemoteConfig{Client: f, Node: "w1", ClaimWait: 5 * time.Second, Reregister: rereg, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRemoteSourceClaim(t *testing.T) {
	t.Parallel()
	lease := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := &fakeRemote{claimResp: []func() (*client.ClaimResponse, error){func() (*client.ClaimResponse, error) {
		return &client.ClaimResponse{Runs: []client.ClaimedRun{{
			ID: "r1", JobID: "j1", Attempt: 2, MaxAttempts: 3, Handler: "noop", Queue: "q",
			PublicCfg: json.RawMessage(`{"a":1}`), Secrets: map[string]any{"password": "pw", "port": 5.0},
			Timeout: connecthub.Duration(time.Minute), Trigger: connecthub.TriggerCron, LeaseExpiresAt: lease,
		}}}, nil
	}}}
	s := newRemote(t, f, nil)
	got, err := s.Claim(context.Background(), 5000)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.claims) != 1 || f.claims[0].Name != "w1" || f.claims[0].Max != MaxBatch || f.claims[0].Wait.D() != 5*time.Second {
		t.Errorf("claim request = %+v", f.claims)
	}
	if len(got) != 1 {
		t.Fatalf("claimed %d runs", len(got))
	}
	r := got[0].Run
	if r.ID != "r1" || r.Attempt != 2 || r.MaxAttempts != 3 || r.Snapshot.Handler != "noop" || r.Snapshot.Timeout.D() != time.Minute ||
		string(r.Snapshot.PublicCfg) != `{"a":1}` || r.Node != "w1" || r.LeaseExpiresAt == nil || !r.LeaseExpiresAt.Equal(lease) {
		t.Errorf("run = %+v", r)
	}
	if got[0].Err != nil || got[0].Secrets["password"] != "pw" || got[0].Secrets["port"] != "5" {
		t.Errorf("secrets = %v, err %v", got[0].Secrets, got[0].Err)
	}
	if a := s.attempt("r1"); a != 2 {
		t.Errorf("attempt held = %d", a)
	}
	runsWake, cancels := s.Wake()
	if cancels != nil {
		t.Error("cancels channel should be nil: heartbeats report cancels")
	}
	select {
	case <-runsWake:
	default:
		t.Error("a claim that brought runs did not signal the next claim")
	}
}

func TestRemoteSourceClaimReregisters(t *testing.T) {
	t.Parallel()
	f := &fakeRemote{claimResp: []func() (*client.ClaimResponse, error){
		func() (*client.ClaimResponse, error) { return nil, apiErr(http.StatusNotFound, "not_registered") },
		func() (*client.ClaimResponse, error) { return &client.ClaimResponse{}, nil },
	}}
	registered := 0
	s := newRemote(t, f, func(context.Context) error { registered++; return nil })
	if _, err := s.Claim(context.Background(), 1); err != nil {
		t.Fatalf("claim after re-registering: %v", err)
	}
	if registered != 1 || len(f.claims) != 2 {
		t.Errorf("registered %d times, %d claims; want 1 and 2", registered, len(f.claims))
	}
}

func TestRemoteSourceHealth(t *testing.T) {
	t.Parallel()
	f := &fakeRemote{claimResp: []func() (*client.ClaimResponse, error){
		func() (*client.ClaimResponse, error) { return nil, errUnreachable },
		func() (*client.ClaimResponse, error) {
			return nil, apiErr(http.StatusServiceUnavailable, "unavailable")
		},
		func() (*client.ClaimResponse, error) { return nil, apiErr(http.StatusBadRequest, "invalid_max") },
		func() (*client.ClaimResponse, error) { return nil, errUnreachable },
		func() (*client.ClaimResponse, error) { return &client.ClaimResponse{}, nil },
	}}
	s := newRemote(t, f, nil)
	for i, wantErr := range []bool{true, true, false, true, false} {
		_, _ = s.Claim(context.Background(), 1)
		if got := s.Err() != nil; got != wantErr {
			t.Errorf("after claim %d: Err() != nil is %v, want %v", i, got, wantErr)
		}
	}
	// A claim cut short by the worker itself says nothing about the server.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.claimResp = []func() (*client.ClaimResponse, error){func() (*client.ClaimResponse, error) { return nil, errUnreachable }}
	if _, err := s.Claim(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted claim: err = %v", err)
	}
	if s.Err() != nil {
		t.Errorf("an interrupted claim marked the server unreachable: %v", s.Err())
	}
}

func TestRemoteSourceHeartbeat(t *testing.T) {
	t.Parallel()
	f := &fakeRemote{beatResp: &client.HeartbeatResponse{Runs: []client.RunHeartbeat{
		{ID: "a"}, {ID: "b", Lost: true}, {ID: "c", CancelRequested: true},
	}}}
	s := newRemote(t, f, nil)
	s.attempts["a"], s.attempts["b"], s.attempts["c"] = 1, 2, 3
	res, err := s.Heartbeat(context.Background(), []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Lost, []string{"b"}) || !slices.Equal(res.CancelRequested, []string{"c"}) {
		t.Errorf("result = %+v", res)
	}
	want := []client.RunRef{{ID: "a", Attempt: 1}, {ID: "b", Attempt: 2}, {ID: "c", Attempt: 3}}
	if len(f.beats) != 1 || f.beats[0].Name != "w1" || !slices.Equal(f.beats[0].Runs, want) {
		t.Errorf("heartbeat request = %+v", f.beats)
	}
}

func TestRemoteSourceAppendLog(t *testing.T) {
	t.Parallel()
	// want is what the capture is told: nil (stored, or not this node's
	// run any more), "dropped" (gone for good: the log is incomplete) or
	// "retried" (sent again later).
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"stored", nil, ""},
		{"lease lost: not ours", apiErr(http.StatusConflict, "lease_lost"), ""},
		{"run deleted: not ours", apiErr(http.StatusNotFound, "not_found"), ""},
		{"refused: dropped", apiErr(http.StatusBadRequest, "invalid_lines"), "dropped"},
		{"server down: retried", errUnreachable, "retried"},
		{"server error: retried", apiErr(http.StatusServiceUnavailable, "unavailable"), "retried"},
		{"token revoked: retried", apiErr(http.StatusUnauthorized, "unauthorized"), "retried"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeRemote{logErr: tt.err}
			s := newRemote(t, f, nil)
			s.attempts["r"] = 4
			err := s.AppendLog(context.Background(), "r", "line\n")
			got := ""
			switch {
			case errors.Is(err, runlog.ErrDropped):
				got = "dropped"
			case err != nil:
				got = "retried"
			}
			if got != tt.want {
				t.Errorf("err = %v (%q), want %q", err, got, tt.want)
			}
			var ce *connecthub.Error
			if err != nil && (!errors.As(err, &ce) || ce.Message == "" || strings.Contains(ce.Message, "http://x")) {
				t.Errorf("err = %v, want a *connecthub.Error with a safe message for the incomplete marker", err)
			}
			if len(f.logs) != 1 || f.logs[0].Chunk != "line\n" || f.logs[0].Attempt != 4 || f.logs[0].Name != "w1" {
				t.Errorf("log request = %+v", f.logs)
			}
		})
	}
}

func TestRemoteSourceComplete(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tests := []struct {
		name       string
		outcome    store.RunOutcome
		err        error
		wantStatus string
		wantErr    bool
		forgotten  bool
	}{
		{"success", store.RunOutcome{Status: connecthub.StatusSuccess, Message: "m", Result: json.RawMessage(`{"n":1}`)}, nil, client.CompleteSuccess, false, true},
		{"failure", store.RunOutcome{Status: connecthub.StatusFailure, Error: "boom", Traceback: "tb"}, nil, client.CompleteFailure, false, true},
		{"canceled", store.RunOutcome{Status: connecthub.StatusCanceled}, nil, client.CompleteCanceled, false, true},
		{"retry", store.RunOutcome{Status: connecthub.StatusQueued, ConsumeAttempt: true, Error: "e", RetryAt: now}, nil, client.CompleteRetry, false, true},
		{"hand back", store.RunOutcome{Status: connecthub.StatusQueued, RetryAt: now}, nil, client.CompleteHandBack, false, true},
		{"lease lost: dropped", store.RunOutcome{Status: connecthub.StatusSuccess}, apiErr(http.StatusConflict, "lease_lost"), client.CompleteSuccess, false, true},
		{"refused: dropped", store.RunOutcome{Status: connecthub.StatusSuccess}, apiErr(http.StatusBadRequest, "invalid_status"), client.CompleteSuccess, false, true},
		{"server down: kept", store.RunOutcome{Status: connecthub.StatusSuccess}, errUnreachable, client.CompleteSuccess, true, false},
		{"server error: kept", store.RunOutcome{Status: connecthub.StatusSuccess}, apiErr(http.StatusInternalServerError, "internal"), client.CompleteSuccess, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeRemote{compErr: tt.err}
			s := newRemote(t, f, nil)
			s.attempts["r"] = 3
			o := tt.outcome
			o.ID, o.Node, o.Now, o.Attempt = "r", "ignored", now, 3
			err := s.Complete(context.Background(), []store.RunOutcome{o})
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error %v", err, tt.wantErr)
			}
			if len(f.completes) != 1 {
				t.Fatalf("%d complete calls", len(f.completes))
			}
			req := f.completes[0]
			if req.Status != tt.wantStatus || req.Name != "w1" || req.Attempt != 3 || req.Message != o.Message ||
				req.Error != o.Error || req.Traceback != o.Traceback || string(req.Result) != string(o.Result) {
				t.Errorf("request = %+v", req)
			}
			if forgotten := s.attempt("r") == 0; forgotten != tt.forgotten {
				t.Errorf("attempt forgotten = %v, want %v", forgotten, tt.forgotten)
			}
		})
	}
}

// TestRemoteSourceCompleteKeepsNewerAttempt: settling an old attempt does
// not forget a newer attempt of the same run claimed meanwhile.
func TestRemoteSourceCompleteKeepsNewerAttempt(t *testing.T) {
	t.Parallel()
	f := &fakeRemote{compErr: apiErr(http.StatusConflict, "lease_lost")}
	s := newRemote(t, f, nil)
	s.attempts["r"] = 2
	err := s.Complete(context.Background(), []store.RunOutcome{{ID: "r", Status: connecthub.StatusSuccess, Attempt: 1, Now: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	if a := s.attempt("r"); a != 2 {
		t.Errorf("attempt held = %d, want 2", a)
	}
}

func TestNewRemoteSourceChecksConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []RemoteConfig{
		{Node: "w"},
		{Client: &fakeRemote{}},
		{Client: &fakeRemote{}, Node: "w", ClaimWait: time.Minute},
		{Client: &fakeRemote{}, Node: "w", ClaimWait: -time.Second},
	} {
		if _, err := NewRemoteSource(cfg); err == nil {
			t.Errorf("NewRemoteSource(%+v) accepted a bad config", cfg)
		}
	}
}
