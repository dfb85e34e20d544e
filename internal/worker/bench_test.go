package worker

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/store"
)

// BenchmarkNoopThroughput measures how many no-op runs per second one node
// executes end to end (claim, execute, log capture, complete) on SQLite,
// with the queue filled before the worker starts. b.N is the number of
// runs; compare the runs/s metric:
//
//	go test -run '^$' -bench NoopThroughput -benchtime 30000x ./internal/worker/
func BenchmarkNoopThroughput(b *testing.B) {
	for _, c := range []int{20, 50, 200, 2000} {
		b.Run("C="+strconv.Itoa(c), func(b *testing.B) {
			h := newHarness(b)
			h.handle(b, "noop", func(ctx context.Context, task *handler.Task) (*handler.Result, error) { return nil, nil })
			j := h.job(b, "job", "noop", nil)
			for left := b.N; left > 0; left -= 5000 {
				h.enqueue(b, j, min(left, 5000))
			}
			src := &countingSource{Source: h.source(b, "bench"), want: b.N, done: make(chan struct{})}
			b.ResetTimer()
			start := time.Now()
			h.start(b, "bench", src, func(cfg *Config) { cfg.Concurrency = c })
			recv(b, src.done, "every outcome")
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "runs/s")
			b.ReportMetric(float64(b.N)/float64(src.calls), "outcomes/commit")
			st, err := h.st.Stats(context.Background(), time.Now())
			if err != nil {
				b.Fatal(err)
			}
			if got := st.Runs[connecthub.StatusSuccess]; got != int64(b.N) {
				b.Fatalf("%d runs succeeded, want %d", got, b.N)
			}
		})
	}
}

// countingSource closes done once want outcomes were recorded.
type countingSource struct {
	Source
	mu    sync.Mutex
	n     int
	calls int
	want  int
	done  chan struct{}
}

func (s *countingSource) Complete(ctx context.Context, outcomes []store.RunOutcome) error {
	err := s.Source.Complete(ctx, outcomes)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if err == nil {
		before := s.n
		s.n += len(outcomes)
		if before < s.want && s.n >= s.want {
			close(s.done)
		}
	}
	return err
}
