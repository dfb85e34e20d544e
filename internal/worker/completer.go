package worker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/connecthub/connecthub/internal/store"
)

// Retry waits of a failed Complete call.
const (
	completeRetryMin = 50 * time.Millisecond
	completeRetryMax = 5 * time.Second
)

// completer records outcomes in groups (group commit): each flush writes
// whatever accumulated while the previous one ran, up to MaxBatch per call,
// so a burst of finished runs costs a few calls rather than one per run. A
// failed call is retried with back-off until it succeeds or the final flush
// deadline passes: a database hiccup must not lose outcomes.
type completer struct {
	src       Source
	log       *slog.Logger
	committed func(*task) // called once per outcome after it was recorded or given up

	mu      sync.Mutex
	pending []pendingOutcome

	kick     chan struct{} // buffer 1: something was added
	stopping chan struct{} // closed by stop: flush everything, then return
	done     chan struct{}

	// ctx carries the Complete calls; stop replaces its deadline with the
	// final flush deadline by cancelling it when that passes.
	ctx    context.Context
	cancel context.CancelFunc

	// Outcomes given up on at the final deadline, and the last error.
	lost    int
	lastErr error
}

type pendingOutcome struct {
	t   *task
	rec store.RunOutcome
}

func newCompleter(src Source, log *slog.Logger, committed func(*task)) *completer {
	return &completer{
		src:       src,
		log:       log,
		committed: committed,
		kick:      make(chan struct{}, 1),
		stopping:  make(chan struct{}),
		done:      make(chan struct{}),
	}
}

func (c *completer) start(ctx context.Context) {
	c.ctx, c.cancel = context.WithCancel(ctx)
	go c.loop()
}

// add queues an outcome.
func (c *completer) add(t *task, rec store.RunOutcome) {
	c.mu.Lock()
	c.pending = append(c.pending, pendingOutcome{t: t, rec: rec})
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// remove drops t's outcome if it is still waiting (not yet being written);
// it reports whether it did.
func (c *completer) remove(t *task) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.pending {
		if p.t == t {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			return true
		}
	}
	return false
}

// stop flushes what is pending, giving up when ctx is done, and returns how
// many outcomes were given up and the last error.
func (c *completer) stop(ctx context.Context) (int, error) {
	stopCancel := context.AfterFunc(ctx, c.cancel)
	defer stopCancel()
	close(c.stopping)
	<-c.done
	c.cancel()
	return c.lost, c.lastErr
}

func (c *completer) loop() {
	defer close(c.done)
	for {
		select {
		case <-c.kick:
			c.flush()
		case <-c.stopping:
			c.flush()
			return
		}
	}
}

// flush writes batches until nothing is pending.
func (c *completer) flush() {
	var recs []store.RunOutcome
	for {
		c.mu.Lock()
		n := min(len(c.pending), MaxBatch)
		batch := make([]pendingOutcome, n)
		copy(batch, c.pending)
		c.pending = append(c.pending[:0], c.pending[n:]...)
		c.mu.Unlock()
		if n == 0 {
			return
		}
		recs = recs[:0]
		for _, p := range batch {
			recs = append(recs, p.rec)
		}
		c.write(recs)
		for _, p := range batch {
			c.committed(p.t)
		}
	}
}

// write calls Complete until it succeeds or the completer's context ends.
func (c *completer) write(recs []store.RunOutcome) {
	wait := completeRetryMin
	for failures := 1; ; failures++ {
		err := c.src.Complete(c.ctx, recs)
		if err == nil {
			if failures > 1 {
				c.log.Info("recording run outcomes succeeded after retries", "outcomes", len(recs), "failures", failures-1)
			}
			return
		}
		if c.ctx.Err() != nil {
			c.lost += len(recs)
			c.lastErr = err
			c.log.Error("giving up recording run outcomes; their leases will expire and the rescuer will take the runs over",
				"outcomes", len(recs), "err", err)
			return
		}
		c.log.Warn("recording run outcomes failed; retrying", "outcomes", len(recs), "failures", failures,
			"retry_in", wait, "err", err)
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-c.ctx.Done():
			timer.Stop()
		}
		wait = min(wait*2, completeRetryMax)
	}
}
