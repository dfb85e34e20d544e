package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/internal/runlog"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/workerproto/runrules"
	"github.com/connecthub/connecthub/protocol"
)

// RemoteClient is the worker protocol as RemoteSource uses it;
// *client.Client implements it.
type RemoteClient interface {
	Claim(ctx context.Context, req client.ClaimRequest) (*client.ClaimResponse, error)
	Heartbeat(ctx context.Context, req client.HeartbeatRequest) (*client.HeartbeatResponse, error)
	AppendRunLog(ctx context.Context, runID string, req client.LogRequest) error
	CompleteRun(ctx context.Context, runID string, req client.CompleteRequest) (*connecthub.Run, error)
}

// Defaults and bounds of RemoteConfig.
const (
	DefaultClaimWait = 20 * time.Second
	MaxClaimWait     = protocol.MaxClaimWait // the server's cap
	// remoteParallel bounds the concurrent calls of one Complete.
	remoteParallel = 8
)

// RemoteConfig configures a RemoteSource.
type RemoteConfig struct {
	// Client speaks the worker protocol to the server. Required.
	Client RemoteClient
	// Node is the registered node name. Required.
	Node string
	// ClaimWait is how long one claim waits on the server for runs (the
	// long poll). Default 20s, at most 30s.
	ClaimWait time.Duration
	// Reregister, when set, is called when the server answers a claim with
	// not_registered (the registry lost the node: it was cleaned, or the
	// database was restored); the claim is retried once after it succeeds.
	Reregister func(ctx context.Context) error
	// Probe, when set, asks the server cheaply whether it answers (and its
	// store with it) without claiming: the worker calls it while it backs
	// off after failed claims, to claim again as soon as an outage ends
	// (see Prober). Without it, the claim itself is retried every half
	// second during an outage.
	Probe func(ctx context.Context) error
	// Logger receives the source's own log lines. Default slog.Default().
	Logger *slog.Logger
}

// RemoteSource implements Source over the HTTP worker protocol, for
// `connecthub worker`. Claims are long polls, so an idle worker costs one
// request per ClaimWait and a new run starts within milliseconds; the
// heartbeats of all held runs go in one call; outcomes are completed with
// the attempt they belong to, so a late outcome never lands on a newer
// attempt.
//
// Calls that fail because the server cannot be reached return errors that
// the runtime retries with back-off (outcomes are never dropped for that);
// answers that say the node no longer holds a run drop what concerned it,
// as the Source contract says.
type RemoteSource struct {
	c          RemoteClient
	node       string
	wait       time.Duration
	reregister func(ctx context.Context) error
	probe      func(ctx context.Context) error
	log        *slog.Logger
	wake       chan struct{}

	mu       sync.Mutex
	attempts map[string]int // attempt held, by run id
	lastErr  error          // the last call's transport failure; nil after a success
}

// NewRemoteSource checks cfg and returns a RemoteSource.
func NewRemoteSource(cfg RemoteConfig) (*RemoteSource, error) {
	if cfg.Client == nil {
		return nil, errors.New("worker: remote source needs a Client")
	}
	if cfg.Node == "" {
		return nil, errors.New("worker: remote source needs a Node name")
	}
	if cfg.ClaimWait == 0 {
		cfg.ClaimWait = DefaultClaimWait
	}
	if cfg.ClaimWait < 0 || cfg.ClaimWait > MaxClaimWait {
		return nil, fmt.Errorf("worker: remote claim wait must be between 0 and %s, got %s", MaxClaimWait, cfg.ClaimWait)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &RemoteSource{
		c:          cfg.Client,
		node:       cfg.Node,
		wait:       cfg.ClaimWait,
		reregister: cfg.Reregister,
		probe:      cfg.Probe,
		log:        cfg.Logger.With("component", "remote-source"),
		wake:       make(chan struct{}, 1),
		attempts:   make(map[string]int),
	}, nil
}

// ClaimBlocks implements BlockingClaimer: claims are long polls, which the
// server answers with nothing (and hands back what it claimed) when the
// client gives up on them.
func (s *RemoteSource) ClaimBlocks() bool { return true }

// Err returns why the last call to the server failed to get an answer, or
// nil if it got one. The proc API reports ERROR while it is not nil.
func (s *RemoteSource) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// Probe implements Prober with RemoteConfig.Probe; without one it answers
// errors.ErrUnsupported, and the worker retries the claim itself instead.
// A probe that reaches the server counts for Err as any call does.
func (s *RemoteSource) Probe(ctx context.Context) error {
	if s.probe == nil {
		return fmt.Errorf("worker: remote source: no probe configured: %w", errors.ErrUnsupported)
	}
	err := s.probe(ctx)
	if ctx.Err() == nil {
		s.note(err)
	}
	return err
}

// Reachable records that the server answered another call of the node
// (its keepalive), so that Err reports nil again at once after an outage
// even while the worker holds no run and waits out a claim back-off.
func (s *RemoteSource) Reachable() { s.note(nil) }

// note records whether a call reached the server. Answers that are
// errors about the request (4xx) count as reaching it; 5xx and transport
// failures do not.
func (s *RemoteSource) note(err error) {
	st := client.StatusOf(err)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil || (st >= 400 && st < 500) {
		s.lastErr = nil
		return
	}
	s.lastErr = err
}

// Claim implements Source with one long poll.
func (s *RemoteSource) Claim(ctx context.Context, max int) ([]*Claimed, error) {
	started := time.Now()
	req := client.ClaimRequest{Name: s.node, Max: min(max, MaxBatch), Wait: connecthub.Duration(s.wait)}
	resp, err := s.c.Claim(ctx, req)
	if err != nil && ctx.Err() == nil && client.CodeOf(err) == "not_registered" && s.reregister != nil {
		s.log.Warn("the server does not know this node; registering again")
		if rerr := s.reregister(ctx); rerr != nil {
			return nil, fmt.Errorf("register again after not_registered: %w", rerr)
		}
		resp, err = s.c.Claim(ctx, req)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err() // interrupted by Pause or Stop: not the server's fault
		}
		s.note(err)
		return nil, err
	}
	s.note(nil)
	out := make([]*Claimed, 0, len(resp.Runs))
	s.mu.Lock()
	for i := range resp.Runs {
		cr := &resp.Runs[i]
		if cr.ID == "" {
			s.log.Error("the server returned a claimed run without an id; ignoring it")
			continue
		}
		s.attempts[cr.ID] = cr.Attempt
		out = append(out, remoteClaimed(s.node, cr))
	}
	s.mu.Unlock()
	// Claim again at once after runs came or the poll waited its full
	// time (it was the wait); a poll that came back empty early (the
	// server is draining) is followed by the worker's normal poll delay,
	// so a server that answers at once is not hammered.
	if len(out) > 0 || time.Since(started) >= s.wait*9/10 {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return out, nil
}

// remoteClaimed turns a protocol run into what the runtime executes.
func remoteClaimed(node string, cr *client.ClaimedRun) *Claimed {
	lease := cr.LeaseExpiresAt
	run := &connecthub.Run{
		ID:             cr.ID,
		JobID:          cr.JobID,
		Status:         connecthub.StatusRunning,
		Trigger:        cr.Trigger,
		ScheduledFor:   cr.ScheduledFor,
		Queue:          cr.Queue,
		Attempt:        cr.Attempt,
		MaxAttempts:    cr.MaxAttempts,
		Node:           node,
		LeaseExpiresAt: &lease,
		Snapshot: connecthub.Snapshot{
			Handler:     cr.Handler,
			PublicCfg:   cr.PublicCfg,
			Timeout:     cr.Timeout,
			MaxAttempts: cr.MaxAttempts,
			HasSecret:   len(cr.Secrets) > 0,
			Meta:        connecthub.SnapshotMeta{Trigger: cr.Trigger, ScheduledFor: cr.ScheduledFor, Upstream: cr.Upstream},
		},
	}
	c := &Claimed{Run: run}
	c.Secrets, c.Err = runrules.SecretStrings(cr.Secrets)
	return c
}

// attempt returns the attempt this node holds of a run (0 if unknown: the
// server then skips the attempt check).
func (s *RemoteSource) attempt(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[id]
}

// forget drops a run's attempt once its outcome is settled, unless a newer
// attempt of the run was claimed meanwhile.
func (s *RemoteSource) forget(id string, attempt int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.attempts[id]; ok && (attempt == 0 || a == attempt) {
		delete(s.attempts, id)
	}
}

// Heartbeat implements Source with one batched call.
func (s *RemoteSource) Heartbeat(ctx context.Context, runIDs []string) (store.RunHeartbeatResult, error) {
	var res store.RunHeartbeatResult
	if len(runIDs) == 0 {
		return res, nil
	}
	req := client.HeartbeatRequest{Name: s.node, Runs: make([]client.RunRef, len(runIDs))}
	for i, id := range runIDs {
		req.Runs[i] = client.RunRef{ID: id, Attempt: s.attempt(id)}
	}
	resp, err := s.c.Heartbeat(ctx, req)
	s.note(err)
	if err != nil {
		return res, err
	}
	for _, r := range resp.Runs {
		switch {
		case r.Lost:
			res.Lost = append(res.Lost, r.ID)
		case r.CancelRequested:
			res.CancelRequested = append(res.CancelRequested, r.ID)
		}
	}
	return res, nil
}

// AppendLog implements Source. A chunk for a run this node no longer holds
// is dropped, like the store drops appends to runs that are not RUNNING.
func (s *RemoteSource) AppendLog(ctx context.Context, runID, chunk string) error {
	err := s.c.AppendRunLog(ctx, runID, client.LogRequest{Name: s.node, Attempt: s.attempt(runID), Chunk: chunk})
	s.note(err)
	switch st := client.StatusOf(err); {
	case err == nil:
		return nil
	case st == http.StatusConflict || st == http.StatusNotFound:
		return nil
	case st >= 400 && st < 500 && st != http.StatusUnauthorized && st != http.StatusForbidden && st != http.StatusTooManyRequests:
		// The server refused the chunk itself; sending it again cannot
		// help. The capture marks the log incomplete rather than leave a
		// silent gap.
		s.log.Error("the server refused a run log chunk; dropping it", "run_id", runID, "bytes", len(chunk), "err", err)
		return fmt.Errorf("%w: %w", runlog.ErrDropped, logError(err))
	default:
		return logError(err)
	}
}

// logError turns a failed log append into a *connecthub.Error whose message
// may be stored with the run if the log ends incomplete: the server's own
// message (written to be shown, e.g. "the database cannot be written"),
// or a generic one for a server that could not be reached, whose error
// text carries addresses.
func logError(err error) error {
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Message != "" {
		return &connecthub.Error{Kind: connecthub.KindUnavailable, Code: ae.Code,
			Message: fmt.Sprintf("the server did not store the log (HTTP %d): %s", ae.Status, ae.Message), Err: err}
	}
	return &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "unreachable",
		Message: "the server could not be reached to store the log", Err: err}
}

// Complete implements Source: one call per outcome, a few at a time. It
// fails (and the runtime retries the whole batch, which the server answers
// idempotently) as long as an outcome could not reach the server;
// outcomes the server refuses for good (the run was lost, or deleted) are
// dropped.
func (s *RemoteSource) Complete(ctx context.Context, outcomes []store.RunOutcome) error {
	errs := make([]error, len(outcomes))
	sem := make(chan struct{}, remoteParallel)
	var wg sync.WaitGroup
	for i := range outcomes {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = s.complete(ctx, &outcomes[i])
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *RemoteSource) complete(ctx context.Context, o *store.RunOutcome) error {
	attempt := o.Attempt
	if attempt == 0 {
		attempt = s.attempt(o.ID)
	}
	req := client.CompleteRequest{
		Name:      s.node,
		Attempt:   attempt,
		Status:    completeStatus(o),
		Message:   o.Message,
		Error:     o.Error,
		Traceback: o.Traceback,
		Result:    o.Result,
	}
	_, err := s.c.CompleteRun(ctx, o.ID, req)
	s.note(err)
	switch st := client.StatusOf(err); {
	case err == nil:
		s.forget(o.ID, attempt)
		return nil
	case st == http.StatusConflict || st == http.StatusNotFound:
		s.log.Info("the server did not record a run outcome: this node no longer holds the run",
			"run_id", o.ID, "attempt", attempt, "status", req.Status, "err", err)
		s.forget(o.ID, attempt)
		return nil
	case st >= 400 && st < 500 && st != http.StatusUnauthorized && st != http.StatusForbidden && st != http.StatusTooManyRequests:
		s.log.Error("the server refused a run outcome; dropping it (the run's lease will expire and it will be rescued)",
			"run_id", o.ID, "attempt", attempt, "status", req.Status, "err", err)
		s.forget(o.ID, attempt)
		return nil
	default:
		return fmt.Errorf("complete run %s: %w", o.ID, err)
	}
}

// completeStatus maps a runtime outcome to the protocol's vocabulary.
func completeStatus(o *store.RunOutcome) string {
	switch {
	case o.Status == connecthub.StatusQueued && o.ConsumeAttempt:
		return client.CompleteRetry
	case o.Status == connecthub.StatusQueued:
		return client.CompleteHandBack
	default:
		return string(o.Status)
	}
}

// Wake implements Source: runs are signalled after a claim that waited its
// full time or brought runs, so the next long poll starts at once; there
// is no push for cancels, which heartbeats report.
func (s *RemoteSource) Wake() (runs <-chan struct{}, cancels <-chan struct{}) {
	return s.wake, nil
}
