package httpapi

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/runlog"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/worker"
)

// This file serves the worker protocol (/api/v1/worker,
// docs/worker-protocol.md): how `connecthub worker` and workers in other
// languages register, claim runs, keep their leases and record outcomes.
//
// The servers keep no session for a worker: every call names the node and
// the attempt it concerns, and all state lives in the database, so any
// replica behind a load balancer answers any call the same way.

// WorkerNodes is the node registry as the worker protocol uses it;
// *node.Registry implements it.
type WorkerNodes interface {
	// Register upserts a node; its present state becomes activating.
	Register(ctx context.Context, n *connecthub.Node) (*connecthub.Node, error)
	// Keepalive records a heartbeat; KindNotFound when the node must
	// register again.
	Keepalive(ctx context.Context, name, presentState string, running int) (*connecthub.Node, error)
	// Prestop deregisters a node that stops gracefully.
	Prestop(ctx context.Context, name string) error
	// Get returns a node; KindNotFound if none.
	Get(ctx context.Context, name string) (*connecthub.Node, error)
}

// SecretDecrypter decrypts a run's secret_cfg; *secret.Keyring implements it.
type SecretDecrypter interface {
	DecryptJSON(token string) (map[string]any, error)
}

// WorkerProtocol wires the worker protocol. Without Nodes and Keys the
// routes answer 503.
type WorkerProtocol struct {
	Nodes WorkerNodes
	Keys  SecretDecrypter
	// LeaseTTL is the lease a claim grants and a heartbeat extends
	// (CONNECTHUB_LEASE_TTL). Default 30s.
	LeaseTTL time.Duration
	// Heartbeat is the heartbeat interval the server asks of workers
	// (CONNECTHUB_HEARTBEAT). Default 5s.
	Heartbeat time.Duration
	// RunLogMaxBytes caps a run's stored log, whatever the worker sends
	// (CONNECTHUB_RUN_LOG_MAX_BYTES). Default 204800.
	RunLogMaxBytes int
	// RetryBackoffMax caps the back-off of a RETRY outcome
	// (CONNECTHUB_RETRY_BACKOFF_MAX); 0 = connecthub.MaxRetryBackoff.
	RetryBackoffMax time.Duration
	// PollInterval is how often a waiting claim looks for runs when no
	// notification came (runs whose retry back-off ended send none).
	// Default 1s.
	PollInterval time.Duration
}

// Bounds of the protocol's inputs.
const (
	maxClaimWait     = 30 * time.Second
	maxClaimRuns     = 1000
	handBackTimeout  = 10 * time.Second
	truncationSuffix = "\n" + runlog.TruncatedMarker + "\n"
)

func (p WorkerProtocol) withDefaults() WorkerProtocol {
	if p.LeaseTTL <= 0 {
		p.LeaseTTL = 30 * time.Second
	}
	if p.Heartbeat <= 0 {
		p.Heartbeat = 5 * time.Second
	}
	if p.RunLogMaxBytes <= 0 {
		p.RunLogMaxBytes = runlog.DefaultMaxBytes
	}
	if p.PollInterval <= 0 {
		p.PollInterval = time.Second
	}
	return p
}

// workerRoutes registers the protocol's routes.
func (a *API) workerRoutes(api func(string, func(http.ResponseWriter, *http.Request) error)) {
	a.cfg.Worker = a.cfg.Worker.withDefaults()
	api("POST /api/v1/worker/register", a.workerRegister)
	api("POST /api/v1/worker/keepalive", a.workerKeepalive)
	api("POST /api/v1/worker/prestop", a.workerPrestop)
	api("POST /api/v1/worker/claim", a.workerClaim)
	api("POST /api/v1/worker/heartbeat", a.workerHeartbeat)
	api("POST /api/v1/worker/runs/{id}/heartbeat", a.workerRunHeartbeat)
	api("POST /api/v1/worker/runs/{id}/log", a.workerRunLog)
	api("POST /api/v1/worker/runs/{id}/complete", a.workerRunComplete)
}

func (a *API) workerEnabled() error {
	if a.cfg.Worker.Nodes == nil || a.cfg.Worker.Keys == nil {
		return &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "worker_protocol_disabled",
			Message: "the worker protocol is not enabled on this server"}
	}
	return nil
}

var (
	wireNamePattern  = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	errNotRegistered = &connecthub.Error{Kind: connecthub.KindNotFound, Code: "not_registered", Field: "name",
		Message: "this node is not registered (it was removed or never registered): register again"}
)

func leaseLost(id string) error {
	return &connecthub.Error{Kind: connecthub.KindConflict, Code: "lease_lost",
		Message: "this node no longer holds this attempt of run " + id + " (its lease expired and the run was rescued, or it ended): stop it and record nothing"}
}

func checkNodeName(name string) error {
	if !wireNamePattern.MatchString(name) {
		return connecthub.FieldError("name", "", "name is required: 1-128 characters of A-Z a-z 0-9 . _ : -")
	}
	return nil
}

func checkAttempt(attempt int) error {
	if attempt < 1 {
		return connecthub.FieldError("attempt", "", "attempt is required: the attempt number the run was claimed with (at least 1)")
	}
	return nil
}

// Registration.

type registerBody struct {
	Name           string                   `json:"name"`
	Version        string                   `json:"version"`
	Endpoint       string                   `json:"endpoint"`
	Queues         []string                 `json:"queues"`
	Handlers       []connecthub.NodeHandler `json:"handlers"`
	MaxConcurrency int                      `json:"max_concurrency"`
	MetricsPort    int                      `json:"metrics_port"`
	Labels         map[string]string        `json:"labels"`
}

func (a *API) workerRegister(w http.ResponseWriter, r *http.Request) error {
	if err := a.workerEnabled(); err != nil {
		return err
	}
	var b registerBody
	if err := decodeJSON(r, &b); err != nil {
		return err
	}
	// The registry validates the registration and names the field at
	// fault (handlers[2].name, labels.zone).
	n, err := a.cfg.Worker.Nodes.Register(r.Context(), &connecthub.Node{
		Name:           b.Name,
		Kind:           connecthub.NodeKindWorker,
		Version:        b.Version,
		Endpoint:       b.Endpoint,
		Queues:         b.Queues,
		Handlers:       b.Handlers,
		MaxConcurrency: b.MaxConcurrency,
		MetricsPort:    b.MetricsPort,
		Labels:         b.Labels,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, n)
	return nil
}

func (a *API) workerKeepalive(w http.ResponseWriter, r *http.Request) error {
	if err := a.workerEnabled(); err != nil {
		return err
	}
	var b struct {
		Name    string `json:"name"`
		State   string `json:"state"`
		Running int    `json:"running"`
	}
	if err := decodeJSON(r, &b); err != nil {
		return err
	}
	n, err := a.cfg.Worker.Nodes.Keepalive(r.Context(), b.Name, b.State, b.Running)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, n)
	return nil
}

func (a *API) workerPrestop(w http.ResponseWriter, r *http.Request) error {
	if err := a.workerEnabled(); err != nil {
		return err
	}
	var b struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(r, &b); err != nil {
		return err
	}
	// The registry's prestop is idempotent: one retried after its answer
	// was lost succeeds.
	if err := a.cfg.Worker.Nodes.Prestop(r.Context(), b.Name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Claims.

// claimedRun is a run as a worker receives it: what it needs to execute,
// secrets decrypted.
type claimedRun struct {
	ID             string              `json:"id"`
	JobID          string              `json:"job_id"`
	Attempt        int                 `json:"attempt"`
	MaxAttempts    int                 `json:"max_attempts"`
	Handler        string              `json:"handler"`
	Queue          string              `json:"queue"`
	PublicCfg      json.RawMessage     `json:"public_cfg"`
	Secrets        map[string]any      `json:"secrets"`
	Timeout        connecthub.Duration `json:"timeout"`
	Trigger        connecthub.Trigger  `json:"trigger"`
	ScheduledFor   time.Time           `json:"scheduled_for"`
	LeaseExpiresAt time.Time           `json:"lease_expires_at"`
}

type claimResponse struct {
	Runs      []claimedRun        `json:"runs"`
	LeaseTTL  connecthub.Duration `json:"lease_ttl"`
	Heartbeat connecthub.Duration `json:"heartbeat"`
}

func (a *API) workerClaim(w http.ResponseWriter, r *http.Request) error {
	if err := a.workerEnabled(); err != nil {
		return err
	}
	var b struct {
		Name string          `json:"name"`
		Max  int             `json:"max"`
		Wait json.RawMessage `json:"wait"`
	}
	if err := decodeJSON(r, &b); err != nil {
		return err
	}
	if err := checkNodeName(b.Name); err != nil {
		return err
	}
	if b.Max < 1 || b.Max > maxClaimRuns {
		return connecthub.FieldError("max", "", "max must be between 1 and %d", maxClaimRuns)
	}
	var wait connecthub.Duration
	if len(b.Wait) > 0 {
		if err := wait.UnmarshalJSON(b.Wait); err != nil {
			return connecthub.FieldError("wait", "", "wait %s", err.Error())
		}
	}
	if wait < 0 || wait.D() > maxClaimWait {
		return connecthub.FieldError("wait", "", "wait must be between 0s and %s", maxClaimWait)
	}
	ctx := r.Context()
	n, err := a.cfg.Worker.Nodes.Get(ctx, b.Name)
	if connecthub.IsKind(err, connecthub.KindNotFound) {
		return errNotRegistered
	}
	if err != nil {
		return err
	}
	runs, err := a.claimWaiting(ctx, n, b.Max, wait.D())
	if err != nil {
		return err
	}
	if n.PresentState == connecthub.NodeActivating && len(runs) > 0 {
		// A node turns active once it claims (docs/worker-protocol.md). A
		// failure here only delays the state until the node's next keepalive.
		if _, err := a.cfg.Worker.Nodes.Keepalive(context.WithoutCancel(ctx), n.Name, connecthub.NodeActive, n.Running); err != nil {
			a.log.Warn("marking node active after its first claim failed", "node", n.Name, "err", err)
		}
	}
	return a.deliverClaim(w, r, n.Name, runs)
}

// claimWaiting claims up to max runs for node n, waiting up to wait for
// some to arrive: it claims at once, then again whenever the store says
// runs may be claimable, or PollInterval passed, until runs come, wait
// passes, the client goes away, or this server starts draining (a long
// poll must not hold a shutdown up).
func (a *API) claimWaiting(ctx context.Context, n *connecthub.Node, max int, wait time.Duration) ([]*claimedTask, error) {
	handlers := make([]string, 0, len(n.Handlers))
	for _, h := range n.Handlers {
		handlers = append(handlers, h.Name)
	}
	// A node an operator stopped, or that serves nothing, gets nothing;
	// it still waits, so a worker that ignores setting_state does not spin.
	idle := n.SettingState == connecthub.NodeInactive || len(handlers) == 0 || len(n.Queues) == 0

	st := a.svc.Store()
	var wake <-chan struct{}
	if !idle && wait > 0 {
		// Subscribe before the first claim, so that a run inserted
		// between that claim and the wait is not missed.
		ch, unsubscribe := st.Subscribe(store.TopicRuns)
		defer unsubscribe()
		wake = ch
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	poll := time.NewTimer(time.Hour)
	defer poll.Stop()
	for {
		if ctx.Err() != nil {
			return nil, nil // the client went away: claim nothing for it
		}
		if !idle {
			runs, err := a.claimOnce(ctx, n, handlers, max)
			if err != nil || len(runs) > 0 || wait <= 0 {
				return runs, err
			}
		} else if wait <= 0 {
			return nil, nil
		}
		// The fallback poll is jittered so that idle workers started
		// together do not claim in lockstep.
		p := a.cfg.Worker.PollInterval
		poll.Reset(p - p/10 + time.Duration(rand.Float64()*float64(p/5)))
		select {
		case <-wake:
		case <-poll.C:
			if ok, _ := a.cfg.Ready(ctx); !ok {
				return nil, nil
			}
		case <-deadline.C:
			return nil, nil
		case <-ctx.Done():
			return nil, nil
		}
	}
}

// claimedTask is a claimed run and its decrypted secrets.
type claimedTask struct {
	run     *connecthub.Run
	secrets map[string]any
}

// claimOnce claims runs and decrypts their secrets. A run whose secrets
// cannot be decrypted is ended FAILURE here, with the reason, instead of
// being sent to a worker that could not run it either.
func (a *API) claimOnce(ctx context.Context, n *connecthub.Node, handlers []string, max int) ([]*claimedTask, error) {
	st := a.svc.Store()
	now := time.Now().UTC()
	// The claim itself is not cut short when the client goes away: runs
	// it committed would be left RUNNING for nobody until their leases
	// expired. deliverClaim hands them back instead.
	runs, err := st.RunClaim(context.WithoutCancel(ctx), store.RunClaimParams{
		Node: n.Name, Queues: n.Queues, Handlers: handlers, Max: max,
		LeaseTTL: a.cfg.Worker.LeaseTTL, Now: now,
	})
	if err != nil {
		return nil, err
	}
	out := make([]*claimedTask, 0, len(runs))
	var failed []store.RunOutcome
	for _, run := range runs {
		secrets, err := a.runSecrets(context.WithoutCancel(ctx), run)
		if err != nil {
			failed = append(failed, store.RunOutcome{ID: run.ID, Node: n.Name, Status: connecthub.StatusFailure,
				Error: err.Error(), Now: now, Attempt: run.Attempt})
			continue
		}
		out = append(out, &claimedTask{run: run, secrets: secrets})
	}
	if len(failed) > 0 {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handBackTimeout)
		defer cancel()
		if _, err := st.RunComplete(cctx, failed); err != nil {
			a.log.Error("ending runs whose secrets cannot be decrypted failed; they will be rescued when their leases expire", "runs", len(failed), "err", err)
		}
	}
	return out, nil
}

// runSecrets decrypts a run's secret_cfg (nil when it has none).
func (a *API) runSecrets(ctx context.Context, run *connecthub.Run) (map[string]any, error) {
	token := run.Snapshot.SecretCfg
	if token == "" && run.Snapshot.HasSecret {
		var err error
		if token, err = a.svc.Store().RunSecret(ctx, run.ID); err != nil {
			return nil, err
		}
	}
	if token == "" {
		return nil, nil
	}
	return a.cfg.Worker.Keys.DecryptJSON(token)
}

// deliverClaim writes the claimed runs. When the client is gone, or the
// answer cannot be written, the runs are handed back at once (same
// attempt) rather than left to wait for their leases to expire and be
// rescued with an attempt consumed: a worker that gives up on a long poll
// (it is pausing or stopping) loses nothing.
func (a *API) deliverClaim(w http.ResponseWriter, r *http.Request, node string, tasks []*claimedTask) error {
	resp := claimResponse{
		Runs:      make([]claimedRun, 0, len(tasks)),
		LeaseTTL:  connecthub.Duration(a.cfg.Worker.LeaseTTL),
		Heartbeat: connecthub.Duration(a.cfg.Worker.Heartbeat),
	}
	for _, t := range tasks {
		run := t.run
		cfg := run.Snapshot.PublicCfg
		if len(cfg) == 0 {
			cfg = json.RawMessage(`{}`)
		}
		cr := claimedRun{
			ID: run.ID, JobID: run.JobID, Attempt: run.Attempt, MaxAttempts: run.MaxAttempts,
			Handler: run.Snapshot.Handler, Queue: run.Queue, PublicCfg: cfg, Secrets: t.secrets,
			Timeout: run.Snapshot.Timeout, Trigger: run.Trigger, ScheduledFor: run.ScheduledFor,
		}
		if cr.Secrets == nil {
			cr.Secrets = map[string]any{}
		}
		if run.LeaseExpiresAt != nil {
			cr.LeaseExpiresAt = *run.LeaseExpiresAt
		}
		resp.Runs = append(resp.Runs, cr)
	}
	body, err := json.Marshal(resp)
	if err != nil {
		a.handBack(r.Context(), node, tasks)
		return err
	}
	if len(tasks) > 0 && r.Context().Err() != nil {
		a.handBack(r.Context(), node, tasks)
		return nil
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(append(body, '\n')); err != nil && len(tasks) > 0 {
		a.handBack(r.Context(), node, tasks)
	}
	return nil
}

// handBack re-queues claimed runs without consuming an attempt.
func (a *API) handBack(ctx context.Context, node string, tasks []*claimedTask) {
	if len(tasks) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handBackTimeout)
	defer cancel()
	now := time.Now().UTC()
	outcomes := make([]store.RunOutcome, len(tasks))
	for i, t := range tasks {
		outcomes[i] = store.RunOutcome{ID: t.run.ID, Node: node, Status: connecthub.StatusQueued,
			Now: now, RetryAt: now, Attempt: t.run.Attempt}
	}
	if _, err := a.svc.Store().RunComplete(ctx, outcomes); err != nil {
		a.log.Error("handing back runs claimed for a worker that went away failed; they will be rescued when their leases expire",
			"node", node, "runs", len(tasks), "err", err)
		return
	}
	a.log.Info("worker went away during its claim; runs handed back", "node", node, "runs", len(tasks))
}

// Heartbeats.

type runRef struct {
	ID      string `json:"id"`
	Attempt int    `json:"attempt"`
}

type runHeartbeat struct {
	ID              string     `json:"id"`
	CancelRequested bool       `json:"cancel_requested"`
	Lost            bool       `json:"lost"`
	LeaseExpiresAt  *time.Time `json:"lease_expires_at,omitempty"`
}

// heartbeat extends the leases of the runs node holds and answers for
// each. A run counts as held only in the attempt the worker names (the
// store checks it): a node whose attempt was rescued and that claimed the
// run again holds the new attempt, not the old one.
func (a *API) heartbeat(ctx context.Context, node string, refs []runRef) ([]runHeartbeat, error) {
	now := time.Now().UTC()
	ids := make([]string, len(refs))
	attempts := make(map[string]int, len(refs))
	for i, ref := range refs {
		ids[i] = ref.ID
		attempts[ref.ID] = ref.Attempt
	}
	res, err := a.svc.Store().RunHeartbeat(ctx, store.RunHeartbeatParams{
		Node: node, IDs: ids, Attempts: attempts, LeaseTTL: a.cfg.Worker.LeaseTTL, Now: now,
	})
	if err != nil {
		return nil, err
	}
	lost := make(map[string]bool, len(res.Lost))
	for _, id := range res.Lost {
		lost[id] = true
	}
	cancel := make(map[string]bool, len(res.CancelRequested))
	for _, id := range res.CancelRequested {
		cancel[id] = true
	}
	lease := now.Add(a.cfg.Worker.LeaseTTL)
	out := make([]runHeartbeat, len(refs))
	for i, ref := range refs {
		hb := runHeartbeat{ID: ref.ID, Lost: lost[ref.ID]}
		if !hb.Lost {
			hb.CancelRequested = cancel[ref.ID]
			hb.LeaseExpiresAt = &lease
		}
		out[i] = hb
	}
	return out, nil
}

func (a *API) workerHeartbeat(w http.ResponseWriter, r *http.Request) error {
	if err := a.workerEnabled(); err != nil {
		return err
	}
	var b struct {
		Name string   `json:"name"`
		Runs []runRef `json:"runs"`
	}
	if err := decodeJSON(r, &b); err != nil {
		return err
	}
	if err := checkNodeName(b.Name); err != nil {
		return err
	}
	if len(b.Runs) > maxClaimRuns {
		return connecthub.FieldError("runs", "", "runs must list at most %d runs", maxClaimRuns)
	}
	seen := make(map[string]bool, len(b.Runs))
	for i, ref := range b.Runs {
		if ref.ID == "" || ref.Attempt < 1 {
			return connecthub.FieldError("runs", "", "runs[%d] needs an id and its attempt (at least 1)", i)
		}
		if seen[ref.ID] {
			return connecthub.FieldError("runs", "", "run %s is listed twice", ref.ID)
		}
		seen[ref.ID] = true
	}
	out, err := a.heartbeat(r.Context(), b.Name, b.Runs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": out})
	return nil
}

func (a *API) workerRunHeartbeat(w http.ResponseWriter, r *http.Request) error {
	if err := a.workerEnabled(); err != nil {
		return err
	}
	var b struct {
		Name    string `json:"name"`
		Attempt int    `json:"attempt"`
	}
	if err := decodeJSON(r, &b); err != nil {
		return err
	}
	if err := checkNodeName(b.Name); err != nil {
		return err
	}
	if err := checkAttempt(b.Attempt); err != nil {
		return err
	}
	id := r.PathValue("id")
	out, err := a.heartbeat(r.Context(), b.Name, []runRef{{ID: id, Attempt: b.Attempt}})
	if err != nil {
		return err
	}
	if out[0].Lost {
		return leaseLost(id)
	}
	writeJSON(w, http.StatusOK, out[0])
	return nil
}

// heldRun returns the run if node holds that attempt of it: 404 when the
// run does not exist, 409 lease_lost when the node does not hold it.
func (a *API) heldRun(ctx context.Context, id, node string, attempt int) (*connecthub.Run, error) {
	run, err := a.svc.Store().RunGet(ctx, id)
	if err != nil {
		return nil, err
	}
	if run.Status != connecthub.StatusRunning || run.Node != node || run.Attempt != attempt {
		return run, leaseLost(id)
	}
	return run, nil
}

// masker builds the masker of a run's secrets. The server masks what a
// worker sends even though ConnectHub's own worker already did: a worker
// in another language may not.
func (a *API) masker(ctx context.Context, run *connecthub.Run) (*runlog.Masker, error) {
	values, err := a.runSecrets(ctx, run)
	if err != nil {
		return nil, err
	}
	strs, err := worker.SecretStrings(values)
	if err != nil {
		return nil, err
	}
	list := make([]string, 0, len(strs))
	for _, v := range strs {
		list = append(list, v)
	}
	return runlog.NewMasker(list), nil
}

// Logs.

func (a *API) workerRunLog(w http.ResponseWriter, r *http.Request) error {
	if err := a.workerEnabled(); err != nil {
		return err
	}
	var b struct {
		Name    string   `json:"name"`
		Attempt int      `json:"attempt"`
		Lines   []string `json:"lines"`
		Chunk   *string  `json:"chunk"`
	}
	if err := decodeJSON(r, &b); err != nil {
		return err
	}
	if err := checkNodeName(b.Name); err != nil {
		return err
	}
	if err := checkAttempt(b.Attempt); err != nil {
		return err
	}
	switch {
	case b.Lines != nil && b.Chunk != nil:
		return connecthub.FieldError("lines", "", "send lines or chunk, not both")
	case b.Lines == nil && b.Chunk == nil:
		return connecthub.FieldError("lines", "", "lines (an array of strings) or chunk (a string) is required")
	}
	chunk := ""
	if b.Chunk != nil {
		chunk = *b.Chunk
	}
	for _, l := range b.Lines {
		chunk += strings.TrimRight(l, "\r\n") + "\n"
	}
	ctx := r.Context()
	run, err := a.heldRun(ctx, r.PathValue("id"), b.Name, b.Attempt)
	if err != nil {
		return err
	}
	chunk = cleanText(chunk)
	if chunk == "" {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	m, err := a.masker(ctx, run)
	if err != nil {
		return err
	}
	chunk = capChunk(m.Mask(chunk), run.LogSize, a.cfg.Worker.RunLogMaxBytes)
	if chunk != "" {
		if err := a.svc.Store().RunLogAppend(ctx, run.ID, chunk); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// capChunk cuts chunk so that a log of size bytes stays within max: the
// content is kept within max minus the truncation marker, so that the
// marker always fits after it; the chunk that crosses that line is cut and
// ends with the marker, and a log that has its marker takes nothing more.
func capChunk(chunk string, size int64, max int) string {
	limit := int64(max) - int64(len(truncationSuffix))
	if size+int64(len(chunk)) <= limit {
		return chunk
	}
	keep := limit - size
	if keep < 0 {
		return ""
	}
	cut := int(keep)
	for cut > 0 && !utf8RuneStart(chunk[cut]) {
		cut--
	}
	return chunk[:cut] + truncationSuffix
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// cleanText makes text storable in a text column: valid UTF-8 without NUL
// bytes (PostgreSQL rejects both).
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// Completion.

type completeBody struct {
	Name      string          `json:"name"`
	Attempt   int             `json:"attempt"`
	Status    string          `json:"status"`
	Message   string          `json:"message"`
	Error     string          `json:"error"`
	Traceback string          `json:"traceback"`
	Result    json.RawMessage `json:"result"`
}

// Completion statuses of the protocol.
const (
	completeRetry    = "RETRY"
	completeHandBack = "HANDBACK"
)

func (a *API) workerRunComplete(w http.ResponseWriter, r *http.Request) error {
	if err := a.workerEnabled(); err != nil {
		return err
	}
	var b completeBody
	if err := decodeJSON(r, &b); err != nil {
		return err
	}
	if err := checkNodeName(b.Name); err != nil {
		return err
	}
	if err := checkAttempt(b.Attempt); err != nil {
		return err
	}
	b.Status = strings.ToUpper(strings.TrimSpace(b.Status))
	switch b.Status {
	case string(connecthub.StatusSuccess), string(connecthub.StatusFailure), string(connecthub.StatusCanceled), completeRetry, completeHandBack:
	default:
		return connecthub.FieldError("status", "", "status must be SUCCESS, FAILURE, CANCELED, RETRY or HANDBACK")
	}
	if r := strings.TrimSpace(string(b.Result)); r == "null" {
		b.Result = nil
	}
	ctx := r.Context()
	id := r.PathValue("id")
	st := a.svc.Store()
	run, err := st.RunGet(ctx, id)
	if err != nil {
		return err
	}
	m, err := a.masker(ctx, run)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	o := store.RunOutcome{
		ID: id, Node: b.Name, Attempt: b.Attempt, Now: now,
		Message:   runlog.Message(m.Mask(b.Message), nil),
		Error:     runlog.Message(m.Mask(b.Error), nil),
		Traceback: runlog.Message(m.Mask(b.Traceback), nil),
	}
	switch b.Status {
	case completeRetry:
		o.Status, o.ConsumeAttempt = connecthub.StatusQueued, true
		o.RetryAt = now.Add(worker.Backoff(run.Snapshot.RetryBackoff.D(), a.cfg.Worker.RetryBackoffMax, b.Attempt, rand.Float64()))
		if o.Error == "" {
			o.Error = "the worker asked for a retry without an error message"
		}
	case completeHandBack:
		o.Status, o.RetryAt = connecthub.StatusQueued, now
	default:
		o.Status = connecthub.RunStatus(b.Status)
		o.Result = b.Result
	}
	// Only the holder of this attempt may record it; anything else is
	// either a retry of a completion that already applied (answered with
	// the run again, so a worker that lost an answer can simply retry) or
	// a late completion of a lost lease (409, nothing written).
	if run.Status == connecthub.StatusRunning && run.Node == b.Name && run.Attempt == b.Attempt {
		applied, err := st.RunComplete(ctx, []store.RunOutcome{o})
		if err != nil {
			return err
		}
		if len(applied) == 1 && applied[0] {
			if run, err = st.RunGet(ctx, id); err != nil {
				return err
			}
			run.FillDuration()
			writeJSON(w, http.StatusOK, run)
			return nil
		}
		if run, err = st.RunGet(ctx, id); err != nil {
			return err
		}
	}
	if alreadyApplied(run, b.Status, &o) {
		run.FillDuration()
		writeJSON(w, http.StatusOK, run)
		return nil
	}
	return leaseLost(id)
}

// alreadyApplied reports whether run shows that outcome o, reported as
// status, was recorded before: the mark each kind of outcome leaves on
// the run, which a rescue ("worker lost", attempt+1) never leaves.
func alreadyApplied(run *connecthub.Run, status string, o *store.RunOutcome) bool {
	sameAttempt := run.Attempt == o.Attempt && run.Node == o.Node
	// A re-queue of a run whose cancel was requested ends it CANCELED.
	canceled := sameAttempt && run.Status == connecthub.StatusCanceled && run.CancelRequested
	switch status {
	case completeRetry:
		for _, at := range run.Attempts {
			if at.Attempt == o.Attempt && at.Node == o.Node && at.Error == o.Error {
				return true
			}
		}
		// On its last attempt a retry ends the run FAILURE.
		return canceled || (sameAttempt && run.Status == connecthub.StatusFailure && run.Error == o.Error)
	case completeHandBack:
		if run.Attempt == o.Attempt && (run.Status == connecthub.StatusQueued || (run.Status == connecthub.StatusRunning && run.Node != o.Node)) {
			return true
		}
		return canceled
	default:
		return sameAttempt && string(run.Status) == status && run.Error == o.Error
	}
}
