package store

import (
	"context"
	"sync"
	"time"

	"github.com/connecthub/connecthub"
)

// Health tracks whether the store can write. Ping cannot tell: a database
// whose disk is full, or that was made read-only, still answers reads, so
// every write fails while a readiness check that only pings says all is
// well. Health learns it from the writes themselves: a write that fails
// with a storage error (CodeStorageError) marks the store degraded, and
// the next write that is known to have stored something clears it. An
// outage (CodeDBUnavailable) is not tracked here: Ping sees it, and a
// write that failed because the connection broke says nothing about the
// disk. While degraded, Check runs a probe write so
// that readiness recovers without waiting for traffic. The zero value is
// not usable; call NewHealth.
type Health struct {
	mu        sync.Mutex
	status    string // "" when healthy, else CodeStorageError
	probing   bool
	lastProbe time.Time
	probe     func(context.Context) error
	interval  time.Duration
	now       func() time.Time
}

// DefaultProbeInterval is how often, at most, Check tries the probe write
// while the store is degraded.
const DefaultProbeInterval = time.Second

// NewHealth returns a healthy tracker. probe, which may be nil, is a small
// real write through the watched store (so that its result is observed);
// Check runs it while the store is degraded, at most once per interval
// (0 means DefaultProbeInterval).
func NewHealth(probe func(context.Context) error, interval time.Duration) *Health {
	if interval <= 0 {
		interval = DefaultProbeInterval
	}
	return &Health{probe: probe, interval: interval, now: time.Now}
}

// Status returns "" while the store can write, else CodeStorageError.
func (h *Health) Status() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.status
}

// failed records the outcome of a write that failed; errors that say
// nothing about the storage (a conflict, a missing row, a canceled
// context, a lost connection) change nothing.
func (h *Health) failed(err error) {
	if StoreFailure(err) == CodeStorageError {
		h.mu.Lock()
		h.status = CodeStorageError
		h.mu.Unlock()
	}
}

// wrote records a write that stored something: the store can write again.
func (h *Health) wrote() {
	h.mu.Lock()
	h.status = ""
	h.mu.Unlock()
}

// Check returns Status after, while degraded, trying the probe write when
// the last try is at least the interval old. Concurrent callers do not
// stack probes: they get the status as it is.
func (h *Health) Check(ctx context.Context) string {
	h.mu.Lock()
	if h.status == "" || h.probe == nil || h.probing || h.now().Sub(h.lastProbe) < h.interval {
		defer h.mu.Unlock()
		return h.status
	}
	h.probing, h.lastProbe = true, h.now()
	h.mu.Unlock()

	_ = h.probe(ctx) // observed by the watched store it writes through

	h.mu.Lock()
	defer h.mu.Unlock()
	h.probing = false
	return h.status
}

// Watch returns st with its writes observed by h. Every write's storage
// failure marks h degraded; only writes that certainly stored something
// clear it, because on SQLite a statement that matched no row (a claim of
// an empty queue, a log append to a finished run) succeeds even when the
// disk is full, and would clear it falsely. Reads are not observed: Ping
// tells whether the database answers.
func Watch(st Store, h *Health) Store { return &watched{Store: st, h: h} }

// watched is the Store that Watch returns.
type watched struct {
	Store
	h *Health
}

// observe records a write's result; stored says whether a success means
// something was written.
func (w *watched) observe(err error, stored bool) {
	switch {
	case err != nil:
		w.h.failed(err)
	case stored:
		w.h.wrote()
	}
}

func (w *watched) JobCreate(ctx context.Context, job *connecthub.Job) error {
	err := w.Store.JobCreate(ctx, job)
	w.observe(err, true)
	return err
}

func (w *watched) JobUpdate(ctx context.Context, id string, update func(*connecthub.Job) error) (*connecthub.Job, error) {
	j, err := w.Store.JobUpdate(ctx, id, update)
	w.observe(err, true)
	return j, err
}

func (w *watched) JobDelete(ctx context.Context, id string) error {
	err := w.Store.JobDelete(ctx, id)
	w.observe(err, true)
	return err
}

func (w *watched) JobsFire(ctx context.Context, fires []JobFireParams) ([]JobFireResult, error) {
	r, err := w.Store.JobsFire(ctx, fires)
	w.observe(err, len(r) > 0)
	return r, err
}

func (w *watched) RunInsert(ctx context.Context, runs []*connecthub.Run) error {
	err := w.Store.RunInsert(ctx, runs)
	w.observe(err, len(runs) > 0)
	return err
}

func (w *watched) RunLogAppend(ctx context.Context, id string, chunk string) error {
	err := w.Store.RunLogAppend(ctx, id, chunk)
	w.observe(err, false) // an append to a run that is not RUNNING writes nothing
	return err
}

func (w *watched) RunLogAppendHeld(ctx context.Context, p RunLogAppendParams) (bool, error) {
	ok, err := w.Store.RunLogAppendHeld(ctx, p)
	w.observe(err, false) // an append to a run not held that way writes nothing
	return ok, err
}

func (w *watched) RunClaim(ctx context.Context, p RunClaimParams) ([]*connecthub.Run, error) {
	runs, err := w.Store.RunClaim(ctx, p)
	w.observe(err, len(runs) > 0)
	return runs, err
}

func (w *watched) RunHeartbeat(ctx context.Context, p RunHeartbeatParams) (RunHeartbeatResult, error) {
	r, err := w.Store.RunHeartbeat(ctx, p)
	w.observe(err, false)
	return r, err
}

func (w *watched) RunComplete(ctx context.Context, outcomes []RunOutcome) ([]bool, error) {
	applied, err := w.Store.RunComplete(ctx, outcomes)
	stored := false
	for _, a := range applied {
		stored = stored || a
	}
	w.observe(err, stored)
	return applied, err
}

func (w *watched) RunCancel(ctx context.Context, id string, now time.Time) (*connecthub.Run, error) {
	r, err := w.Store.RunCancel(ctx, id, now)
	w.observe(err, false)
	return r, err
}

func (w *watched) RunRescue(ctx context.Context, now time.Time, limit int) ([]*connecthub.Run, error) {
	runs, err := w.Store.RunRescue(ctx, now, limit)
	w.observe(err, len(runs) > 0)
	return runs, err
}

func (w *watched) NodeUpsert(ctx context.Context, n *connecthub.Node) error {
	err := w.Store.NodeUpsert(ctx, n)
	w.observe(err, true)
	return err
}

func (w *watched) NodeKeepalive(ctx context.Context, p NodeKeepaliveParams) (*connecthub.Node, error) {
	n, err := w.Store.NodeKeepalive(ctx, p)
	w.observe(err, true)
	return n, err
}

func (w *watched) TokenCreate(ctx context.Context, t *connecthub.Token) error {
	err := w.Store.TokenCreate(ctx, t)
	w.observe(err, true)
	return err
}

func (w *watched) TokenTouch(ctx context.Context, id string, now time.Time) error {
	err := w.Store.TokenTouch(ctx, id, now)
	w.observe(err, false)
	return err
}

// RunCompleteAndClaim forwards the optional combined call (see
// RunCompleteClaimer), so that watching a store does not silently turn its
// fast path off: the worker finds the call by a type assertion, which an
// embedded Store alone would hide. A store without the call gets the two
// calls it stands for.
func (w *watched) RunCompleteAndClaim(ctx context.Context, outcomes []RunOutcome, claim RunClaimParams) ([]bool, []*connecthub.Run, error) {
	cc, ok := w.Store.(RunCompleteClaimer)
	if !ok {
		applied, err := w.RunComplete(ctx, outcomes)
		if err != nil {
			return nil, nil, err
		}
		runs, err := w.RunClaim(ctx, claim)
		return applied, runs, err
	}
	applied, runs, err := cc.RunCompleteAndClaim(ctx, outcomes, claim)
	stored := len(runs) > 0
	for _, a := range applied {
		stored = stored || a
	}
	w.observe(err, stored)
	return applied, runs, err
}

// CompleteAndClaimPays answers for the watched store; false when it has no
// combined call.
func (w *watched) CompleteAndClaimPays() bool {
	cc, ok := w.Store.(RunCompleteClaimer)
	return ok && cc.CompleteAndClaimPays()
}
