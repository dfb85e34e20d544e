package maintenance_test

import (
	"context"
	"testing"
	"time"

	"github.com/connecthub/connecthub/internal/maintenance"
)

// TestAuditCleanerPurgesAtStart: the cleaner purges once as it starts
// (a replica that restarts daily still keeps the log to its retention),
// and stops cleanly.
func TestAuditCleanerPurgesAtStart(t *testing.T) {
	t.Parallel()
	passes := make(chan struct{}, 4)
	c := maintenance.NewAuditCleaner(maintenance.AuditCleanerConfig{Interval: time.Hour,
		Purge: func(context.Context) (int64, error) { passes <- struct{}{}; return 3, nil }})
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-passes:
	case <-time.After(10 * time.Second):
		t.Fatal("no purge at start")
	}
	if err := c.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := maintenance.NewAuditCleaner(maintenance.AuditCleanerConfig{}).Start(t.Context()); err == nil {
		t.Error("a cleaner without Purge started")
	}
}
