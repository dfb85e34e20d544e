package worker

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// gatedCompletes is a Source whose Complete calls wait at a gate: it
// reports each call as it starts, with the outcomes it carries, and counts
// the calls in flight. Only Complete is used.
type gatedCompletes struct {
	Source
	started chan []store.RunOutcome // every call, as it starts
	gate    chan struct{}

	mu       sync.Mutex
	inFlight int
	maxIn    int
	written  []string
}

func newGatedCompletes() *gatedCompletes {
	return &gatedCompletes{started: make(chan []store.RunOutcome, 100), gate: make(chan struct{})}
}

func (s *gatedCompletes) Complete(ctx context.Context, outcomes []store.RunOutcome) error {
	s.mu.Lock()
	s.inFlight++
	s.maxIn = max(s.maxIn, s.inFlight)
	s.mu.Unlock()
	s.started <- append([]store.RunOutcome(nil), outcomes...)
	<-s.gate
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight--
	for _, o := range outcomes {
		s.written = append(s.written, o.ID)
	}
	return nil
}

// TestSpareWriter: while one write of outcomes is in flight, a second
// starts only when claiming has gone quiet and a full claim's outcomes are
// pending. Through Stop's final flush (where the spare may help), no
// outcome is written twice or left behind, and each is settled once.
func TestSpareWriter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		quiet      bool // claimsQuiet(true) before the second batch
		second     int  // outcomes added while the first write waits
		wantSecond bool // a second write starts before the first ends
	}{
		{name: "claims busy", quiet: false, second: 4},
		{name: "quiet, full claim pending", quiet: true, second: 4, wantSecond: true},
		{name: "quiet, less than a claim pending", quiet: true, second: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const concurrency = 4
			src := newGatedCompletes()
			var pipe atomic.Int64
			var mu sync.Mutex
			committed := 0
			c := newCompleter(src, slog.New(slog.NewTextHandler(io.Discard, nil)), completerLimit(concurrency), &pipe,
				func(*task) { mu.Lock(); committed++; mu.Unlock() })
			c.start(context.Background())

			add := func(id string) {
				c.add(&task{}, store.RunOutcome{ID: id, Status: connecthub.StatusSuccess})
			}
			add("r0")
			if first := recv(t, src.started, "the first write"); len(first) != 1 {
				t.Fatalf("first write carries %d outcomes, want 1", len(first))
			}
			// The first write waits at the gate; these queue behind it.
			pipe.Add(1) // a task about to hand over: the main writer waits for it
			for i := range tc.second {
				add("r" + string(rune('1'+i)))
			}
			c.claimsQuiet(tc.quiet)
			if tc.wantSecond {
				if second := recv(t, src.started, "a second write while the first is in flight"); len(second) != tc.second {
					t.Errorf("second write carries %d outcomes, want %d", len(second), tc.second)
				}
			} else {
				// No writer took them: the main writer waits for the
				// pipe, and the spare decides under mu on every nudge.
				// Ask it once more, synchronously, after those nudges.
				c.mu.Lock()
				pending := len(c.pending)
				c.mu.Unlock()
				if pending != tc.second {
					t.Fatalf("%d outcomes pending, want the %d added: a writer took some", pending, tc.second)
				}
				if c.nextSpare(&writeBuf{}) {
					t.Fatal("the spare writer took a batch")
				}
				select {
				case o := <-src.started:
					t.Fatalf("a second write of %d outcomes started", len(o))
				default:
				}
			}
			src.mu.Lock()
			maxBeforeStop := src.maxIn
			src.mu.Unlock()
			pipe.Add(-1)
			c.lift()
			close(src.gate)
			if lost, err := c.stop(context.Background()); lost != 0 || err != nil {
				t.Fatalf("stop = %d lost, %v", lost, err)
			}
			src.mu.Lock()
			defer src.mu.Unlock()
			seen := map[string]int{}
			for _, id := range src.written {
				seen[id]++
			}
			if len(seen) != 1+tc.second || len(src.written) != 1+tc.second {
				t.Errorf("written %v, want each of the %d outcomes once", src.written, 1+tc.second)
			}
			if want := 1; !tc.wantSecond && maxBeforeStop > want {
				t.Errorf("%d writes were in flight at once before Stop, want %d", maxBeforeStop, want)
			}
			mu.Lock()
			defer mu.Unlock()
			if committed != 1+tc.second {
				t.Errorf("%d outcomes settled, want %d", committed, 1+tc.second)
			}
		})
	}
}
