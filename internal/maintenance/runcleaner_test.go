package maintenance_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connecthub/connecthub/internal/maintenance"
)

// lockedBuffer is a log destination safe for the cleaner's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// counterValue reads a counter from reg by name.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestRunCleaner: a pass runs at start; every committed batch counts in
// connecthub_runs_deleted_total, also when the pass then fails; each pass
// logs one line; a bad configuration is refused.
func TestRunCleaner(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		err     error
		busy    bool
		wantLog string
	}{
		{"ok", nil, false, "run retention pass"},
		{"failed", errors.New("disk on fire"), false, "run retention pass failed"},
		{"busy", nil, true, "left to another replica"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			logs := &lockedBuffer{}
			passes := make(chan struct{}, 4)
			rc, err := maintenance.NewRunCleaner(maintenance.RunCleanerConfig{Interval: time.Hour, Metrics: reg,
				Logger: slog.New(slog.NewTextHandler(logs, nil)),
				Clean: func(_ context.Context, deleted func(int64)) (maintenance.RunCleanReport, error) {
					deleted(500)
					deleted(7)
					passes <- struct{}{}
					return maintenance.RunCleanReport{Jobs: 2, Deleted: 507, Busy: c.busy}, c.err
				}})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := rc.CleanOnce(t.Context())
			if !errors.Is(err, c.err) || rep.Deleted != 507 {
				t.Fatalf("CleanOnce = %+v, %v", rep, err)
			}
			<-passes
			if got := counterValue(t, reg, "connecthub_runs_deleted_total"); got != 507 {
				t.Errorf("connecthub_runs_deleted_total = %v, want 507", got)
			}
			if !strings.Contains(logs.String(), c.wantLog) || !strings.Contains(logs.String(), "deleted=507") {
				t.Errorf("log %q lacks %q and the count", logs.String(), c.wantLog)
			}
			if err := rc.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			select {
			case <-passes:
			case <-time.After(10 * time.Second):
				t.Fatal("no pass at start")
			}
			if err := rc.Stop(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := counterValue(t, reg, "connecthub_runs_deleted_total"); got != 1014 {
				t.Errorf("after two passes connecthub_runs_deleted_total = %v, want 1014", got)
			}
		})
	}
	if _, err := maintenance.NewRunCleaner(maintenance.RunCleanerConfig{}); err == nil {
		t.Error("a cleaner without Clean was built")
	}
	if _, err := maintenance.NewRunCleaner(maintenance.RunCleanerConfig{Interval: -time.Second,
		Clean: func(context.Context, func(int64)) (maintenance.RunCleanReport, error) {
			return maintenance.RunCleanReport{}, nil
		}}); err == nil {
		t.Error("a cleaner with a negative interval was built")
	}
}
