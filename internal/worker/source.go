package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/runlog"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/workerproto/runrules"
)

// Source is where runs come from and where their outcome goes. The worker
// pool inside `serve` uses LocalSource (the store); `connecthub worker` uses
// an implementation over the HTTP worker protocol. Every method must be safe
// for concurrent use.
type Source interface {
	// Claim takes up to max runs for this node; it returns at once
	// (possibly none). The runs are RUNNING and leased to this node.
	Claim(ctx context.Context, max int) ([]*Claimed, error)
	// Heartbeat extends the leases of the given runs and says which of them
	// have a cancel request and which this node no longer holds.
	Heartbeat(ctx context.Context, runIDs []string) (store.RunHeartbeatResult, error)
	// AppendLog appends a chunk to the log of a RUNNING run.
	AppendLog(ctx context.Context, runID, chunk string) error
	// Complete records outcomes, all or none. Outcomes of runs this node no
	// longer holds are ignored without error.
	Complete(ctx context.Context, outcomes []store.RunOutcome) error
	// Wake returns a channel that signals when runs may be claimable, and
	// one that signals when a cancel may have been requested. Nil channels
	// mean the source cannot tell, and the worker polls.
	Wake() (runs <-chan struct{}, cancels <-chan struct{})
}

// Claimed is a run taken by Claim, with what it needs to execute.
type Claimed struct {
	Run *connecthub.Run
	// Secrets are the decrypted secret_cfg values; non-string JSON values
	// are given as their JSON text. They live in memory only.
	Secrets map[string]string
	// Err, when not nil, says why the run cannot be executed (typically its
	// secrets cannot be decrypted). The worker ends the run FAILURE with this
	// error, without retry, instead of calling the handler. A Source uses it
	// rather than failing the whole Claim, because the run is already
	// claimed and must be ended through the usual path.
	Err error
	// Masker, when not nil, masks every text the run stores (log, message,
	// error, traceback, result): LocalSource builds it from the run's
	// secrets and the server's own. When nil the worker builds one from
	// Secrets.
	Masker *runlog.Masker
}

// masker returns the masker of the run's texts: the Source's, or one of
// the run's secrets.
func (c *Claimed) masker() *runlog.Masker {
	if c.Masker != nil {
		return c.Masker
	}
	return runrules.RunMasker(nil, c.Secrets)
}

// LocalStore is the part of store.Store that LocalSource needs.
type LocalStore interface {
	RunClaim(ctx context.Context, p store.RunClaimParams) ([]*connecthub.Run, error)
	RunHeartbeat(ctx context.Context, p store.RunHeartbeatParams) (store.RunHeartbeatResult, error)
	RunLogAppendHeld(ctx context.Context, p store.RunLogAppendParams) (bool, error)
	RunComplete(ctx context.Context, outcomes []store.RunOutcome) ([]bool, error)
	RunSecret(ctx context.Context, id string) (string, error)
	RunGet(ctx context.Context, id string) (*connecthub.Run, error)
	Subscribe(topic store.Topic) (<-chan struct{}, func())
	Ping(ctx context.Context) error
}

// LocalSource implements Source over the store and the keyring, for the
// worker pool inside `serve`.
type LocalSource struct {
	st       LocalStore
	keys     *secret.Keyring
	node     string
	queues   []string
	leaseTTL time.Duration
	now      func() time.Time
	// serverMasks masks the server's own secrets; each run's masker is
	// built on it.
	serverMasks *runrules.ServerMasks
	// handlers, when set, are the only handlers this source claims runs
	// of (see WithHandlers).
	handlers []string

	// attempts holds, for each run this source claimed and has not
	// completed, the attempt it claimed: only that attempt may log or
	// heartbeat, as a remote worker must name the attempt it holds.
	attemptsMu sync.Mutex
	attempts   map[string]int

	subOnce     sync.Once
	runsCh      <-chan struct{}
	cancelsCh   <-chan struct{}
	unsubscribe []func()
	closeOnce   sync.Once
}

// LocalOption configures a LocalSource.
type LocalOption func(*LocalSource)

// WithServerSecrets makes the source mask the server's own secrets
// (runrules.ServerSecrets) in every run's texts, besides the run's
// secrets, so that a job that reads them (a shell job printing the key
// file) cannot store them in clear. Their patterns are computed once.
func WithServerSecrets(values []string) LocalOption {
	return func(s *LocalSource) { s.serverMasks = runrules.FixedServerMasks(values) }
}

// WithServerMasks is WithServerSecrets for secrets that change while the
// server runs (notification channels' secrets): each claimed run is
// masked for them as they are at its claim.
func WithServerMasks(m *runrules.ServerMasks) LocalOption {
	return func(s *LocalSource) { s.serverMasks = m }
}

// WithHandlers makes the source claim only runs of these handlers: those
// its worker can execute. Without it a claim takes a run of any handler,
// which is right only when every handler of its queues is built in: a
// serve whose queues also carry runs for remote workers (a Python
// worker's py: jobs, say) would otherwise take them and fail them with
// "unknown handler", where a remote worker claims only what it serves.
func WithHandlers(names []string) LocalOption {
	return func(s *LocalSource) { s.handlers = append([]string(nil), names...) }
}

// NewLocalSource returns a Source that claims runs from queues as node, with
// leases of leaseTTL, and decrypts secrets with keys (nil keys: runs with
// secrets fail with a clear error). now is the clock (nil = time.Now).
// Call Close when done, to release the store subscriptions that Wake makes.
func NewLocalSource(st LocalStore, keys *secret.Keyring, node string, queues []string, leaseTTL time.Duration, now func() time.Time, opts ...LocalOption) *LocalSource {
	if now == nil {
		now = time.Now
	}
	s := &LocalSource{
		st:       st,
		keys:     keys,
		node:     node,
		queues:   append([]string(nil), queues...),
		leaseTTL: leaseTTL,
		now:      now,
		attempts: make(map[string]int),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Claim implements Source. It decrypts the secrets of each claimed run; a
// run whose secrets cannot be read is returned with Claimed.Err set.
func (s *LocalSource) Claim(ctx context.Context, max int) ([]*Claimed, error) {
	if s.st == nil {
		return nil, errors.New("worker: local source has no store")
	}
	if s.node == "" {
		return nil, errors.New("worker: local source has no node name")
	}
	if s.leaseTTL <= 0 {
		return nil, fmt.Errorf("worker: local source lease TTL must be positive, got %s", s.leaseTTL)
	}
	runs, err := s.st.RunClaim(ctx, s.claimParams(max))
	if err != nil {
		return nil, err
	}
	return s.claimed(ctx, runs), nil
}

// secrets decrypts the run's secret_cfg into the strings a handler gets,
// along the same path the worker protocol uses for remote workers.
func (s *LocalSource) secrets(ctx context.Context, r *connecthub.Run) (map[string]string, error) {
	var keys runrules.Decrypter
	if s.keys != nil { // a nil *Keyring in the interface would not read as nil
		keys = s.keys
	}
	values, err := runrules.Secrets(ctx, s.st, keys, r)
	if err != nil {
		return nil, err
	}
	return runrules.SecretStrings(values)
}

// attempt returns the attempt of run id this source claimed last and has
// not completed, 0 if none.
func (s *LocalSource) attempt(id string) int {
	s.attemptsMu.Lock()
	defer s.attemptsMu.Unlock()
	return s.attempts[id]
}

// Probe implements Prober with the store's ping, which costs no write: the
// worker backing off after failed claims calls it to notice at once that
// the database is back.
func (s *LocalSource) Probe(ctx context.Context) error {
	if s.st == nil {
		return errors.New("worker: local source has no store")
	}
	return s.st.Ping(ctx)
}

// Heartbeat implements Source. It names the attempt of each run, so that a
// run rescued and claimed again, even by this node, is reported lost to
// the execution of the old attempt.
func (s *LocalSource) Heartbeat(ctx context.Context, runIDs []string) (store.RunHeartbeatResult, error) {
	attempts := make(map[string]int, len(runIDs))
	s.attemptsMu.Lock()
	for _, id := range runIDs {
		if a := s.attempts[id]; a > 0 {
			attempts[id] = a
		}
	}
	s.attemptsMu.Unlock()
	res, err := s.st.RunHeartbeat(ctx, store.RunHeartbeatParams{
		Node:     s.node,
		IDs:      runIDs,
		Attempts: attempts,
		LeaseTTL: s.leaseTTL,
		Now:      s.now(),
	})
	if err != nil {
		return res, err
	}
	// A lost attempt is never completed: forget it here, unless the run
	// was claimed again meanwhile.
	s.attemptsMu.Lock()
	for _, id := range res.Lost {
		if a, ok := attempts[id]; ok && s.attempts[id] == a {
			delete(s.attempts, id)
		}
	}
	s.attemptsMu.Unlock()
	return res, nil
}

// AppendLog implements Source. Only the holder of the run's attempt may
// log, as in the worker protocol: lines of an execution whose lease was
// lost (the run was rescued and may be running elsewhere as a new attempt)
// are dropped without error, so they never land in a later attempt's log.
// The store checks the holder in the statement that writes, so a rescue
// cannot fall between the check and the append.
func (s *LocalSource) AppendLog(ctx context.Context, runID, chunk string) error {
	// An attempt this source did not claim (0) is checked by node only.
	_, err := s.st.RunLogAppendHeld(ctx, store.RunLogAppendParams{RunID: runID, Node: s.node, Attempt: s.attempt(runID), Chunk: chunk})
	return err
}

// Complete implements Source. Every outcome is recorded as this source's
// node, whatever its Node field says, because the store only applies an
// outcome from the node that holds the run. Outcomes that did not apply
// (the run was rescued or deleted meanwhile) are dropped silently, as the
// Source contract says.
func (s *LocalSource) Complete(ctx context.Context, outcomes []store.RunOutcome) error {
	for i := range outcomes {
		outcomes[i].Node = s.node
	}
	_, err := s.st.RunComplete(ctx, outcomes)
	if err != nil {
		return err
	}
	s.forget(outcomes)
	return nil
}

// Wake implements Source with the store's notifications. It subscribes on
// its first call and returns the same channels afterwards.
func (s *LocalSource) Wake() (runs <-chan struct{}, cancels <-chan struct{}) {
	s.subOnce.Do(func() {
		if s.st == nil {
			return
		}
		var unsubRuns, unsubCancels func()
		s.runsCh, unsubRuns = s.st.Subscribe(store.TopicRuns)
		s.cancelsCh, unsubCancels = s.st.Subscribe(store.TopicCancel)
		s.unsubscribe = []func(){unsubRuns, unsubCancels}
	})
	return s.runsCh, s.cancelsCh
}

// Close releases the subscriptions made by Wake. It is safe to call twice
// and does not close the store.
func (s *LocalSource) Close() error {
	s.closeOnce.Do(func() {
		s.subOnce.Do(func() {}) // a later Wake must not subscribe again
		for _, f := range s.unsubscribe {
			if f != nil {
				f()
			}
		}
	})
	return nil
}
