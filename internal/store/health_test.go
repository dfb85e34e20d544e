package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// scriptedStore answers the writes Health watches with the error and the
// number of claimed runs a test sets; the tracker's rules are what is
// tested here, the drivers' errors are tested against real databases in
// their packages.
type scriptedStore struct {
	store.Store
	err     error
	claimed int
}

func (s *scriptedStore) JobCreate(context.Context, *connecthub.Job) error { return s.err }

func (s *scriptedStore) RunClaim(context.Context, store.RunClaimParams) ([]*connecthub.Run, error) {
	return make([]*connecthub.Run, s.claimed), s.err
}

func TestHealthRules(t *testing.T) {
	t.Parallel()
	full := store.DBStorage(errors.New("SQLITE_FULL"))
	tests := []struct {
		name  string
		steps func(ws store.Store, s *scriptedStore)
		want  string
	}{
		{"a conflict says nothing about storage", func(ws store.Store, s *scriptedStore) {
			s.err = store.DBConflict(errors.New("UNIQUE constraint failed"))
			_ = ws.JobCreate(context.Background(), nil)
		}, ""},
		{"an outage is Ping's to see", func(ws store.Store, s *scriptedStore) {
			s.err = store.DBUnavailable(errors.New("connection refused"))
			_ = ws.JobCreate(context.Background(), nil)
		}, ""},
		{"a storage error degrades", func(ws store.Store, s *scriptedStore) {
			s.err = full
			_ = ws.JobCreate(context.Background(), nil)
		}, store.CodeStorageError},
		{"an empty claim wrote nothing and does not clear", func(ws store.Store, s *scriptedStore) {
			s.err = full
			_ = ws.JobCreate(context.Background(), nil)
			s.err = nil
			_, _ = ws.RunClaim(context.Background(), store.RunClaimParams{})
		}, store.CodeStorageError},
		{"a claim that took runs clears", func(ws store.Store, s *scriptedStore) {
			s.err = full
			_ = ws.JobCreate(context.Background(), nil)
			s.err, s.claimed = nil, 2
			_, _ = ws.RunClaim(context.Background(), store.RunClaimParams{})
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &scriptedStore{}
			h := store.NewHealth(nil, 0)
			tt.steps(store.Watch(s, h), s)
			if got := h.Status(); got != tt.want {
				t.Errorf("Status = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestHealthProbeInterval checks that Check probes only while degraded and
// at most once per interval, so that a readiness check polled many times a
// second does not turn into as many writes.
func TestHealthProbeInterval(t *testing.T) {
	t.Parallel()
	s := &scriptedStore{err: store.DBStorage(errors.New("SQLITE_FULL"))}
	probes := 0
	var ws store.Store
	h := store.NewHealth(func(ctx context.Context) error {
		probes++
		return ws.JobCreate(ctx, nil)
	}, time.Hour)
	ws = store.Watch(s, h)
	if got := h.Check(context.Background()); got != "" || probes != 0 {
		t.Fatalf("healthy Check = %q after %d probes, want no probe", got, probes)
	}
	_ = ws.JobCreate(context.Background(), nil)
	for range 3 {
		if got := h.Check(context.Background()); got != store.CodeStorageError {
			t.Fatalf("Check = %q, want %q", got, store.CodeStorageError)
		}
	}
	if probes != 1 {
		t.Errorf("%d probes within one interval, want 1", probes)
	}
}
