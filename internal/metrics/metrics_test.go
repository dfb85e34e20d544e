package metrics_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/metrics"
)

// countingSource answers Stats from fixed values and counts the reads.
type countingSource struct {
	reads int
	fail  bool
}

func (c *countingSource) Stats(_ context.Context, now time.Time) (*connecthub.Stats, error) {
	c.reads++
	if c.fail {
		return nil, errors.New("database down")
	}
	return &connecthub.Stats{
		Runs:   map[connecthub.RunStatus]int64{connecthub.StatusQueued: 3, connecthub.StatusSuccess: int64(c.reads)},
		Queues: []connecthub.QueueStats{{Queue: "default", Depth: 3, OldestAgeSecond: 1.5}},
		Jobs:   4, JobsEnabled: 3,
		Nodes: map[string]int64{connecthub.NodeActive: 2},
	}, nil
}

func TestStatsCollectorReadsOncePerTTL(t *testing.T) {
	t.Parallel()
	src := &countingSource{}
	c := metrics.NewStatsCollector(src, []string{"default", "other"})
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Now = func() time.Time { return now }
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)

	want := map[string]float64{
		`connecthub_queue_depth{queue="default"}`: 3, `connecthub_queue_depth{queue="other"}`: 0,
		`connecthub_jobs{enabled="false"}`: 1, `connecthub_jobs{enabled="true"}`: 3, `connecthub_db_up`: 1,
	}
	for _, step := range []struct {
		name      string
		advance   time.Duration
		wantReads int
	}{
		{"first scrape", 0, 1},
		{"within the TTL", metrics.DefaultStatsTTL - time.Millisecond, 1},
		{"after the TTL", time.Millisecond, 2},
		{"again within it", time.Second, 2},
	} {
		now = now.Add(step.advance)
		got := gather(t, reg)
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				t.Errorf("%s: %s = %v (present %v), want %v", step.name, k, g, ok, v)
			}
		}
		if src.reads != step.wantReads {
			t.Errorf("%s: %d reads, want %d", step.name, src.reads, step.wantReads)
		}
	}

	// A failed read is reported and not cached.
	src.fail = true
	now = now.Add(metrics.DefaultStatsTTL)
	for i := range 2 {
		if got := gather(t, reg); got["connecthub_db_up"] != 0 || len(got) != 1 {
			t.Errorf("failed scrape %d: %v, want only connecthub_db_up 0", i, got)
		}
		if src.reads != 3+i {
			t.Errorf("failed scrape %d: %d reads, want %d", i, src.reads, 3+i)
		}
	}
}

// gather scrapes reg into "name{label="value",...}" → value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			sort.Strings(labels)
			key := mf.GetName()
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			out[key] = m.GetGauge().GetValue()
		}
	}
	return out
}
