// Package store declares the storage contract every driver implements
// (SQLite, PostgreSQL) and that the services, the scheduler and the worker
// runtime use. The runs table is the queue: a run's row is at once its queue
// entry, its lease and its record.
//
// Errors are *connecthub.Error values (KindNotFound, KindConflict, ...), so
// the HTTP layer can map them without knowing the driver. Times are stored
// and returned in UTC, to the microsecond. Methods that depend on "now" take
// it in their parameters, so callers (and tests with a fake clock) own the
// clock.
//
// # One rules layer, thin drivers
//
// The doc comments of this package are the whole contract, and package
// storetest checks every rule they state against every driver. The rules
// that do not depend on the database are written once, here, and the
// drivers call them: the input checks (Validate methods and Check
// functions in validate.go, PrepareRun, PrepareRuns, PrepareFires,
// PrepareNode), the decisions (DecideFire: which slots fire and what the
// concurrency policy records; DecideRescue: what a rescue does to a run;
// DecideCompletion: what an outcome writes), the row codecs of the JSON
// columns (EncodeSnapshot, DecodeSnapshot, EncodeAttempts, JobPublicCfg,
// EncodeNodeDocs, DecodeNodeDocs) and the row scanners whose columns both
// drivers share (ScanNode, ScanRevision, over the dialect's time type),
// run ids (IDGen), paging (PageLimit, Page, ListDeletedJobs) and the list
// filters (AuditWhere, NotificationWhere, on a driver's Dialect), the
// secret walks (WalkSecretTokens, RewriteSecrets), migrations (Migrate)
// and the errors for database failures.
//
// Where a method reads, decides and writes in one transaction, the
// sequence is a rule too and is written here, on small primitives the
// driver supplies (closures or a small interface of one-statement
// methods): the read-modify-write of every Update method (Modify, with
// UpdateJob, UpdateUser, UpdateChannel, UpdateAlertRule), every job change
// (CreateJob, UpdateJob, DeleteJob and WriteBatch on one set of JobSteps),
// RunInsert (InsertRuns), JobsFire's frame (Fire), NodeMarkDead
// (MarkDead), CalendarEnsureBuiltin (EnsureBuiltin), the OIDC sign-in and
// link mark (SignInOIDC, AllowOIDCLink on OIDCTx, UpdateUser with the
// mark), RunCancel (CancelRun), NotificationInsert (InsertNotifications),
// revisions (WriteRevision), RunLogRead's chunk (LogChunkBuilder),
// AlertProcess and AlertCheck (ProcessAlerts, RunAlertCheck), and the
// lists' filters and paging (ListJobs, ListRuns, ListNotifications,
// ListAudit, ListBatches). A driver supplies the SQL: it reads what a rule
// needs in bulk, calls the rule, and writes what it decides, in as few
// statements as its database allows.
//
// # Rules every driver keeps
//
// Besides what each method's comment says:
//
//   - Every time a method depends on is required (KindInvalid when zero),
//     and so are the names it acts on.
//   - List limits: JobList and RunList take 1..MaxPageLimit, 0 meaning
//     DefaultPageLimit; anything else is KindInvalid, not clamped. So are a
//     JobListDue or RunRescue limit below 1, a RunClaim with no queue, Max
//     below 1 or no lease TTL, and a negative log offset.
//   - A claim names at most MaxClaimQueues queues and MaxClaimHandlers
//     handlers (duplicates not counted); an empty name is KindInvalid.
//   - Attempts and counts (RunOutcome.Attempt, RunHeartbeatParams.Attempts,
//     a node's running, max_concurrency and metrics_port) are between 0 and
//     2^31-1, else KindInvalid.
//   - JobUpdate: an update function that changes the id is KindInvalid and
//     nothing is written; its own error is returned as it was (errors.Is).
//   - A job's public_cfg is stored trimmed of surrounding white space, and
//     a blank one as {}; one that is not JSON is KindInvalid.
//   - RunGet and RunList never return the snapshot's secret token
//     (Snapshot.SecretCfg is ""): RunSecret does, and so does RunClaim,
//     because the claiming worker needs it to run the run.
//   - RunLogAppend to a run that does not exist is ignored like an append
//     to a run that is not RUNNING. RunLogRead's Next is offset+len(Data).
//   - RunComplete follows DecideCompletion: re-queueing (retry or
//     hand-back) a run whose cancel was requested ends it CANCELED instead,
//     so that a cancel is never lost; a retry (ConsumeAttempt) of a run on
//     its last attempt ends it FAILURE, so attempt never exceeds
//     max_attempts. A retry's attempts history entry has status FAILURE
//     and the outcome's error; a hand-back adds no entry. A zero RetryAt
//     means available at once. Within one batch that names a run twice,
//     outcomes apply as if they came in separate calls, in order.
//   - RunRescue and NodeMarkDead follow DecideRescue: an expired run whose
//     cancel was requested ends CANCELED (with error "worker lost") instead
//     of being re-queued.
//   - JobsFire follows DecideFire. It sets the inserted runs' Status and
//     Trigger itself (QUEUED or SKIPPED, cron), and an empty Concurrency
//     means forbid. A SKIPPED run is terminal at once (finished_at = Now).
//   - Stats: Runs has an entry for every status (0 when none); a queue's
//     Depth counts all its QUEUED runs and OldestAgeSecond is Now minus the
//     oldest available_at among those already available (0 if none), so a
//     retry waiting out its back-off does not look like a stuck queue;
//     Queues is sorted by name; ActiveNodes counts the nodes whose
//     present_state is active or activating, whatever their setting_state.
//     Stats reads the finished statuses from the maintained counts
//     (StatsStore), never from the history; Runs24h has an entry for every
//     finished status (0 when none) and counts the runs finished since
//     Since24h (connecthub.Stats24hSince of Now); Nodes counts the nodes
//     by present_state (a state without nodes is absent).
//   - RunActiveCount of a job that does not exist is 0.
//   - JobList's Query is a literal substring (% and _ are not wildcards),
//     case-insensitive at least for ASCII.
//   - Nodes: NodeUpsert never modifies its argument; nodes read back have
//     non-nil Queues, Handlers and Labels. NodeMarkDead and NodeClean
//     compare last_heartbeat strictly (a node silent exactly since the
//     limit is kept) and need non-zero times; NodeMarkDead returns its
//     nodes by name. A NodeDelete leaves the node's runs to their leases.
//   - Tokens: lookups are exact (ids, names and hashes are compared
//     bytewise); a token whose name is another token's id is not revoked
//     by that id. TokenTouch writes at the first use and then once a
//     minute or more has passed since the recorded use.
//   - Sessions: lookups are exact like tokens'; SessionTouch writes like
//     TokenTouch, at most once a minute; SessionCreate deletes the expired
//     sessions first (the only clean-up sessions need).
//   - A database whose schema is newer than the driver's newest migration
//     is refused (KindUnavailable, schema_too_new).
//
// A driver may refuse what its database cannot store, with the field's
// name (PostgreSQL's text holds no NUL byte or invalid UTF-8), and says so
// in its package doc.
package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/connecthub/connecthub"
)

// Store is the full storage contract. Consumers should declare the smaller
// interface they need rather than take a Store.
type Store interface {
	JobStore
	RunStore
	HeldLogStore
	NodeStore
	TokenStore
	SessionStore
	CalendarStore
	UserStore
	OIDCStore
	OIDCLinkStore
	AuditStore
	BatchStore
	QueueStore
	SecretStore
	AlertStore
	RunImportStore
	RetentionStore
	StatsStore
	ChainStore
	RevisionStore
	JobLookupStore
	RequestKeyStore
	Notifier

	// Stats counts runs by status, queue depth and the age of the oldest
	// QUEUED run per queue, jobs, and active nodes: those whose
	// present_state is "active" or "activating" (alive and serving, or about
	// to; a node declared dead or shutting down does not count, whatever an
	// operator's setting_state says).
	Stats(ctx context.Context, now time.Time) (*connecthub.Stats, error)
	// Ping checks that the database answers (for readiness).
	Ping(ctx context.Context) error
	// Close releases the database. It is safe to call twice.
	Close() error
}

// JobStore keeps job definitions.
type JobStore interface {
	// JobCreate inserts a job and its create revision in one transaction
	// (CreateJob); KindConflict (job_exists) if the id exists. A refused
	// create writes neither the job nor a revision.
	JobCreate(ctx context.Context, job *connecthub.Job) error
	// JobGet returns a job; KindNotFound if there is none.
	JobGet(ctx context.Context, id string) (*connecthub.Job, error)
	// JobList lists jobs ordered by id, after Cursor (the last id of the
	// previous page). It returns the next cursor, "" on the last page.
	JobList(ctx context.Context, p JobListParams) ([]*connecthub.Job, string, error)
	// JobUpdate reads the job, calls update on it and writes the result, all
	// in one write transaction, so concurrent updates never lose each other's
	// changes. An error from update aborts without writing.
	JobUpdate(ctx context.Context, id string, update func(*connecthub.Job) error) (*connecthub.Job, error)
	// JobDelete deletes the job and all its runs and records its delete
	// revision in one transaction (DeleteJob); KindNotFound if there is
	// none, KindConflict (job_chained) while others chain to it, and then
	// nothing is written.
	JobDelete(ctx context.Context, id string) error
	// JobListDue returns enabled jobs with a next_run_at at or before `before`,
	// oldest slot first, at most limit.
	JobListDue(ctx context.Context, before time.Time, limit int) ([]*connecthub.Job, error)
	// JobNextDue returns the earliest next_run_at of the enabled jobs, or nil.
	JobNextDue(ctx context.Context) (*time.Time, error)
	// JobsFire records the firing of due cron slots, each element in one
	// atomic step, all in one transaction: see JobFireParams.
	JobsFire(ctx context.Context, fires []JobFireParams) ([]JobFireResult, error)
}

// JobListParams filters and pages JobList. It is the domain's
// connecthub.JobFilter, so the service passes a transport's filter through
// unchanged.
type JobListParams = connecthub.JobFilter

// JobFireParams records the firing of one job's due slots.
//
// The driver applies it only if the job is still enabled and its next_run_at
// still equals PrevNextRunAt (compare-and-set): a scheduler that lost the race
// to another replica, or raced an edit of the job, changes nothing. When it
// applies, the driver:
//   - inserts Runs (status QUEUED, trigger cron, one per slot); a slot that
//     already has a run (unique key job_id, scheduled_for) is left alone;
//   - applies Concurrency to each new run: forbid inserts it SKIPPED when the
//     job has a QUEUED or RUNNING run; replace requests cancel of those runs
//     (QUEUED ones become CANCELED at once) and inserts the new run; allow
//     just inserts;
//   - sets the job's last_run_at to LastRunAt (if not nil) and next_run_at to
//     NextRunAt (nil = no further slot).
type JobFireParams struct {
	JobID         string
	PrevNextRunAt time.Time
	NextRunAt     *time.Time
	LastRunAt     *time.Time
	Concurrency   string
	Runs          []*connecthub.Run
	Now           time.Time
}

// JobFireResult says what JobsFire did for one job.
type JobFireResult struct {
	// Applied is false when the compare-and-set failed (another scheduler did
	// it, or the job changed): nothing was written for this job.
	Applied bool
	// Inserted and Skipped count the runs inserted QUEUED and SKIPPED;
	// Duplicates counts slots that already had a run.
	Inserted, Skipped, Duplicates int
	// RunIDs are the ids of the inserted runs (QUEUED and SKIPPED).
	RunIDs []string
}

// RunStore is the queue and the record of runs.
type RunStore interface {
	// RunInsert inserts new runs (manual, api, retry), assigning ids to runs
	// whose ID is empty. Ids are ULIDs: unique and sortable by creation.
	RunInsert(ctx context.Context, runs []*connecthub.Run) error
	// RunGet returns a run without its log; KindNotFound if none.
	RunGet(ctx context.Context, id string) (*connecthub.Run, error)
	// RunList lists runs newest first, after Cursor (the last id of the
	// previous page), and returns the next cursor.
	RunList(ctx context.Context, p RunListParams) ([]*connecthub.Run, string, error)
	// RunSecret returns the encrypted secret_cfg of the run's snapshot ("" if none).
	RunSecret(ctx context.Context, id string) (string, error)
	// RunLogRead returns the run's log from byte offset on, and the status of
	// the run, so a follower knows when to stop.
	RunLogRead(ctx context.Context, id string, offset int64) (RunLogChunk, error)
	// RunLogAppend appends to the log of a RUNNING run. Appends to a run that
	// is not RUNNING are ignored (a late flush after a rescue must not grow a
	// finished record), without error.
	RunLogAppend(ctx context.Context, id string, chunk string) error
	// RunClaim takes up to Max QUEUED runs whose available_at has come, from
	// Queues, highest priority first then oldest, and marks them RUNNING on
	// Node with a lease until Now+LeaseTTL. One statement or one write
	// transaction: two claimers never get the same run.
	RunClaim(ctx context.Context, p RunClaimParams) ([]*connecthub.Run, error)
	// RunHeartbeat extends the leases of runs RUNNING on Node (and, where
	// Attempts names one, in that attempt). It returns the ids among them
	// that have a cancel request, and the ids that Node no longer holds
	// (rescued, finished, deleted, or re-claimed as a newer attempt), which
	// the worker must stop.
	RunHeartbeat(ctx context.Context, p RunHeartbeatParams) (RunHeartbeatResult, error)
	// RunComplete records outcomes in one transaction. An outcome applies only
	// if the run is still RUNNING on that node (and in that attempt, when the
	// outcome's Attempt is not 0); the result says which applied.
	RunComplete(ctx context.Context, outcomes []RunOutcome) ([]bool, error)
	// RunCancel cancels a run in one transaction (CancelRun): a QUEUED run
	// becomes CANCELED at once; a RUNNING run gets cancel_requested (its
	// worker ends it CANCELED) and TopicCancel is published. KindConflict
	// (run_finished) for a terminal run. It returns the run after the
	// change.
	RunCancel(ctx context.Context, id string, now time.Time) (*connecthub.Run, error)
	// RunRescue finds RUNNING runs whose lease expired before Now: a run with
	// attempts left is re-queued with attempt+1 (available at once), else it
	// ends FAILURE with error "worker lost". It returns the rescued runs
	// (after the change).
	RunRescue(ctx context.Context, now time.Time, limit int) ([]*connecthub.Run, error)
	// RunDeleteFinished deletes the terminal runs of a job and returns how
	// many; KindNotFound if the job does not exist.
	RunDeleteFinished(ctx context.Context, jobID string) (int64, error)
	// RunActiveCount counts QUEUED and RUNNING runs of a job.
	RunActiveCount(ctx context.Context, jobID string) (int, error)
}

// RunListParams filters and pages RunList. It is the domain's
// connecthub.RunFilter, so the service passes a transport's filter through
// unchanged.
type RunListParams = connecthub.RunFilter

// RunLogChunk is a piece of a run log: the domain's connecthub.RunLogChunk.
type RunLogChunk = connecthub.RunLogChunk

// RunClaimParams asks for runs. Validate states what a claim must name;
// in particular at most MaxClaimQueues queues and MaxClaimHandlers
// handlers, duplicates not counted, in every driver.
type RunClaimParams struct {
	Node     string
	Queues   []string
	Max      int
	LeaseTTL time.Duration
	Now      time.Time
	// Handlers, when not empty, restricts the claim to runs whose snapshot
	// handler is in the list (a remote worker serves only what it knows).
	Handlers []string
	// HandlerPrefixes, when not empty, also admits runs whose snapshot
	// handler starts with one of them (a node advertising "py:*" serves
	// every "py:" handler). A claim with prefixes but no Handlers claims
	// only the prefixes' runs; with neither, any handler.
	HandlerPrefixes []string
}

// RunHeartbeatParams extends leases.
type RunHeartbeatParams struct {
	Node     string
	IDs      []string
	LeaseTTL time.Duration
	Now      time.Time
	// Attempts, when not nil, gives the attempt Node holds of some of IDs
	// (a missing id or 0: not checked). A run whose current attempt differs
	// was rescued and claimed again, even by the same node: it is reported
	// Lost and its lease is left alone, so the stale execution stops instead
	// of running next to the new attempt. The worker protocol's heartbeats
	// carry the attempt for this; every caller that knows the attempt it
	// holds should pass it.
	Attempts map[string]int
}

// RunHeartbeatResult answers a heartbeat.
type RunHeartbeatResult struct {
	CancelRequested []string
	Lost            []string
}

// RunOutcome is how one attempt of a run ended.
//
// Status is terminal (SUCCESS, FAILURE, CANCELED), or QUEUED to put the run
// back: with ConsumeAttempt (an automatic retry: attempt+1, available at
// RetryAt, the attempt's error kept in the attempts history) or without (a
// hand-back on shutdown: same attempt, available at once).
type RunOutcome struct {
	ID             string
	Node           string
	Status         connecthub.RunStatus
	Message        string
	Error          string
	Traceback      string
	Result         json.RawMessage
	Now            time.Time
	RetryAt        time.Time
	ConsumeAttempt bool
	// Attempt, when not 0, must equal the run's current attempt for the
	// outcome to apply: a worker whose attempt was rescued and re-claimed
	// (even by the same node) can then never record over the new attempt.
	// 0 skips the check (the run need only be RUNNING on Node).
	Attempt int
}

// Topic names a kind of change that subscribers want to hear about.
type Topic string

// Topics published by drivers.
const (
	// TopicRuns: runs may have become claimable (inserted, re-queued).
	TopicRuns Topic = "runs"
	// TopicJobs: jobs were created, changed or deleted (the scheduler re-plans).
	TopicJobs Topic = "jobs"
	// TopicCancel: a cancel was requested for a RUNNING run.
	TopicCancel Topic = "cancel"
)

// Notifier wakes waiters when something changed, in-process for SQLite and
// across replicas with LISTEN/NOTIFY for PostgreSQL. Notifications are hints
// and may be coalesced or lost; waiters also poll at a slow fallback rate.
type Notifier interface {
	// Subscribe returns a channel that receives a value (coalesced: buffer
	// of one) after a change on topic is committed, and a function that
	// unsubscribes.
	Subscribe(topic Topic) (<-chan struct{}, func())
}

// NodeStore keeps the registry of nodes. Node names are the runs' node
// column: a node's runs are the RUNNING runs whose node is its name.
type NodeStore interface {
	// NodeUpsert registers a node: inserts it, or refreshes every field of
	// an existing one of the same name (re-registering after a restart)
	// except two it keeps: RegisteredAt (the first registration) and
	// SettingState (an operator's stop must survive a restart of the node).
	// On insert, an empty SettingState means "active" and an empty
	// PresentState "activating". KindInvalid without a name, RegisteredAt
	// or LastHeartbeat, with an unknown state, or with a negative count.
	// n is not modified: read the node back for what was kept.
	NodeUpsert(ctx context.Context, n *connecthub.Node) error
	// NodeKeepalive records a heartbeat: last_heartbeat = Now, running count
	// and present state (when not ""), and returns the node after it.
	// KindNotFound if the node is not registered (it was cleaned, or
	// removed by its prestop: the node must register again). A node that
	// NodeMarkDead declared inactive and that speaks again with an empty
	// PresentState becomes "active": it is evidently alive, and left
	// "inactive" it would neither count as active nor be declared dead
	// again if it went silent for good.
	NodeKeepalive(ctx context.Context, p NodeKeepaliveParams) (*connecthub.Node, error)
	// NodeGet returns one node; KindNotFound if none.
	NodeGet(ctx context.Context, name string) (*connecthub.Node, error)
	// NodeList returns every node ordered by name (bytewise).
	NodeList(ctx context.Context) ([]*connecthub.Node, error)
	// NodeSetState sets the setting state (an operator's stop/start:
	// "active" or "inactive", else KindInvalid) and returns the node after
	// it; KindNotFound if none.
	NodeSetState(ctx context.Context, name, settingState string) (*connecthub.Node, error)
	// NodeDelete removes a node (prestop); KindNotFound if none. Its runs
	// are left alone: a node deregisters after its runs ended or were
	// handed back, and any left are rescued when their leases expire.
	NodeDelete(ctx context.Context, name string) error
	// NodeMarkDead sets present_state "inactive" on every node not already
	// inactive whose last_heartbeat is before deadBefore, and, in the same
	// transaction, rescues their RUNNING runs at once by RunRescue's rules
	// (attempts left: re-queued with attempt+1 and "worker lost" in the
	// history; none left: FAILURE "worker lost"; cancel requested:
	// CANCELED), without waiting for the leases to expire. A run whose
	// heartbeat or completion is being written at that very moment may be
	// left to that completion or to lease expiry (PostgreSQL skips locked
	// rows rather than wait). It returns the nodes it marked
	// (after the change) and the runs it rescued (after the change), and
	// publishes TopicRuns when it re-queued any. Marking is idempotent, so
	// every replica may run it.
	NodeMarkDead(ctx context.Context, deadBefore, now time.Time) ([]*connecthub.Node, []*connecthub.Run, error)
	// NodeClean deletes inactive nodes whose last_heartbeat is before
	// olderThan and returns how many. Nodes in any other state are kept,
	// however old.
	NodeClean(ctx context.Context, olderThan time.Time) (int64, error)
}

// NodeKeepaliveParams is one heartbeat of a node.
type NodeKeepaliveParams struct {
	Name         string
	PresentState string // "" = unchanged (but see NodeKeepalive)
	Running      int    // runs the node holds; not negative
	Now          time.Time
}

// TokenStore keeps API tokens. Only a hash of each secret is stored.
type TokenStore interface {
	// TokenCreate stores a token; KindConflict if the id, the name or the
	// hash exists (revoked tokens keep theirs). KindInvalid without an id,
	// name, hash or CreatedAt, or with a scope other than admin, worker or
	// user; a user-scope token needs an Owner, the others must have none.
	TokenCreate(ctx context.Context, t *connecthub.Token) error
	// TokenByHash returns the token with that hash, revoked or not (the
	// caller decides what a revoked token means); KindNotFound if none.
	TokenByHash(ctx context.Context, hash string) (*connecthub.Token, error)
	// TokenList returns all tokens, revoked ones included, newest first
	// (by CreatedAt, then id descending).
	TokenList(ctx context.Context) ([]*connecthub.Token, error)
	// TokenRevoke sets revoked_at of the token with that id or, when no id
	// matches, that name. Revoking a revoked token succeeds and keeps the
	// first revocation time. KindNotFound if none matches.
	TokenRevoke(ctx context.Context, idOrName string, now time.Time) error
	// TokenTouch records last use: last_used_at = now, unless the recorded
	// last use is less than a minute before now (or after it), when nothing
	// is written, so callers may call it on every request. Touching an
	// unknown id writes nothing and is not an error, so the check stays one
	// statement.
	TokenTouch(ctx context.Context, id string, now time.Time) error
}

// SecretStore reaches every encrypted secret (jobs' secret_cfg and runs'
// snapshot secrets) for key rotation and restore checks. Tokens are opaque
// here: the store never decrypts them, the caller's functions do.
type SecretStore interface {
	// SecretTokens calls fn for each non-empty stored token with where it
	// lives ("job" or "run") and the id; an error from fn stops the walk
	// and is returned. The walk reads one consistent snapshot of the
	// database, jobs first, each kind in id order.
	SecretTokens(ctx context.Context, fn func(kind, id, token string) error) error
	// SecretsRewrite replaces every non-empty token by rewrite(token) in one
	// write transaction; an error from rewrite aborts without writing
	// anything. It returns how many job and run tokens it rewrote (tokens
	// equal to their rewrite are not written).
	//
	// The error of rewrite is returned wrapped with where the token lives
	// ("run 01J...: ..."; errors.Is and errors.As see through it), so that
	// an operator learns which job or run holds a bad token without the
	// token itself being shown. A rewrite to "" is KindInvalid: a secret is
	// never dropped by accident. Only the token columns change (not
	// updated_at, has_secret or secret_keys). A token that another writer
	// changed after SecretsRewrite read it is left as that writer made it,
	// and not counted.
	SecretsRewrite(ctx context.Context, rewrite func(token string) (string, error)) (jobs, runs int, err error)

	// KeyCheck returns the key check: a token of a known text, made with
	// the key the stored secrets are encrypted with, by which a start
	// tells whether its key file is that key. It is "" when none was
	// written yet (a new database, or one from before key checks).
	KeyCheck(ctx context.Context) (string, error)
	// KeyCheckInit stores token as the key check unless one is stored
	// already, and returns the key check stored afterwards: token when it
	// wrote it, the earlier one otherwise. Of several starts racing on a
	// new database exactly one writes, and the others learn which check
	// they must pass. KindInvalid for a token CheckKeyCheck refuses.
	KeyCheckInit(ctx context.Context, token string) (string, error)
	// KeyCheckSet replaces the key check by token, as a key rotation
	// does once the secrets use the new key. KindInvalid for a token
	// CheckKeyCheck refuses.
	KeyCheckSet(ctx context.Context, token string) error
}

// Where a secret token lives, as SecretTokens reports it.
const (
	SecretKindJob = "job"
	SecretKindRun = "run"
)
