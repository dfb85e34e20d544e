package store

import (
	"encoding/json"
	"math"
	"slices"
	"time"

	"github.com/connecthub/connecthub"
)

// Input checks shared by the drivers. Every method of the contract checks
// its parameters with these before it touches the database, so SQLite and
// PostgreSQL reject exactly the same input with the same field names. A
// driver adds only what its dialect cannot store (PostgreSQL's text holds
// no NUL byte).

// Bounds of a claim's lists: far above any real worker, and well inside
// both databases' limits on compound statements and bound parameters.
const (
	MaxClaimQueues   = 64
	MaxClaimHandlers = 1000
)

// Paging of JobList and RunList: a limit of 0 means DefaultPageLimit, and
// anything outside 1..MaxPageLimit is KindInvalid rather than a silent clamp.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// maxInt is the largest count or attempt number the store keeps: the
// integer columns are 32-bit in PostgreSQL, and SQLite is held to the same.
const maxInt = math.MaxInt32

// PageLimit applies the list limits of the contract.
func PageLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return DefaultPageLimit, nil
	case limit < 0 || limit > MaxPageLimit:
		return 0, connecthub.FieldError("limit", "", "limit must be between 1 and %d", MaxPageLimit)
	}
	return limit, nil
}

// Page cuts a list read with limit+1 rows (one more tells whether there is
// a next page) to limit, and returns the cursor of the next page: the key
// of the last item kept, "" on the last page.
func Page[T any](items []T, limit int, key func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, key(items[limit-1])
}

// CheckRunList checks RunList's filters and returns the page limit.
func CheckRunList(p RunListParams) (int, error) {
	limit, err := PageLimit(p.Limit)
	if err != nil {
		return 0, err
	}
	for _, st := range p.Status {
		if !st.Valid() {
			return 0, connecthub.FieldError("status", "", "unknown run status %q", st)
		}
	}
	if p.Trigger != "" && !p.Trigger.Valid() {
		return 0, connecthub.FieldError("trigger", "", "unknown trigger %q", p.Trigger)
	}
	return limit, nil
}

// CheckLimit checks a batch limit that has no default (JobListDue,
// RunRescue).
func CheckLimit(limit int) error {
	if limit < 1 {
		return connecthub.FieldError("limit", "", "limit must be at least 1")
	}
	return nil
}

// CheckTime checks that a time the method depends on was given: the store
// never reads the clock itself.
func CheckTime(field string, t time.Time) error {
	if t.IsZero() {
		return connecthub.FieldError(field, "", "%s is required", field)
	}
	return nil
}

// CheckMarkDead checks NodeMarkDead's times.
func CheckMarkDead(deadBefore, now time.Time) error {
	if err := CheckTime("dead_before", deadBefore); err != nil {
		return err
	}
	return CheckTime("now", now)
}

// CheckRescue checks RunRescue's time and limit.
func CheckRescue(now time.Time, limit int) error {
	if err := CheckTime("now", now); err != nil {
		return err
	}
	return CheckLimit(limit)
}

// CheckLogOffset checks RunLogRead's offset.
func CheckLogOffset(offset int64) error {
	if offset < 0 {
		return connecthub.FieldError("offset", "", "offset must not be negative")
	}
	return nil
}

// CheckNewJob checks a job JobCreate is given.
func CheckNewJob(job *connecthub.Job) error {
	if job == nil {
		return connecthub.Errorf(connecthub.KindInvalid, "job is required")
	}
	return connecthub.ValidateID(job.ID)
}

// CheckJobUpdate checks JobUpdate's function.
func CheckJobUpdate(update func(*connecthub.Job) error) error {
	if update == nil {
		return connecthub.Errorf(connecthub.KindInvalid, "update function is required")
	}
	return nil
}

// JobUpdateChangedID is the error of a JobUpdate whose function changed
// the job's id: nothing is written.
func JobUpdateChangedID() error {
	return connecthub.FieldError("id", "", "id cannot be changed")
}

// Validate checks a claim and returns its queues and handlers without
// duplicates, in order, never nil (the statements want an empty list, not
// NULL). A claim names a node, at least one and at most MaxClaimQueues
// queues, at most MaxClaimHandlers handlers and handler prefixes, no empty
// name, Max of at least 1, a positive lease TTL and Now. It leaves the
// prefixes without duplicates in p.HandlerPrefixes, never nil.
func (p *RunClaimParams) Validate() (queues, handlers []string, err error) {
	switch {
	case p.Node == "":
		return nil, nil, connecthub.FieldError("node", "", "node is required")
	case p.Max < 1:
		return nil, nil, connecthub.FieldError("max", "", "max must be at least 1")
	case p.LeaseTTL <= 0:
		return nil, nil, connecthub.FieldError("lease_ttl", "", "lease TTL must be positive")
	case p.Now.IsZero():
		return nil, nil, connecthub.FieldError("now", "", "now is required")
	}
	if queues, err = distinctNonEmpty("queues", p.Queues); err != nil {
		return nil, nil, err
	}
	switch {
	case len(queues) == 0:
		return nil, nil, connecthub.FieldError("queues", "", "at least one queue is required")
	case len(queues) > MaxClaimQueues:
		return nil, nil, connecthub.FieldError("queues", "", "a claim may name at most %d queues", MaxClaimQueues)
	}
	if handlers, err = distinctNonEmpty("handlers", p.Handlers); err != nil {
		return nil, nil, err
	}
	if len(handlers) > MaxClaimHandlers {
		return nil, nil, connecthub.FieldError("handlers", "", "a claim may name at most %d handlers", MaxClaimHandlers)
	}
	prefixes, err := distinctNonEmpty("handler_prefixes", p.HandlerPrefixes)
	if err != nil {
		return nil, nil, err
	}
	if len(handlers)+len(prefixes) > MaxClaimHandlers {
		return nil, nil, connecthub.FieldError("handler_prefixes", "", "a claim may name at most %d handlers and handler prefixes", MaxClaimHandlers)
	}
	p.HandlerPrefixes = prefixes
	return queues, handlers, nil
}

// distinctNonEmpty returns the values without duplicates, in order, never
// nil; an empty value is an error.
func distinctNonEmpty(field string, values []string) ([]string, error) {
	out := make([]string, 0, len(values))
	for _, v := range values {
		if v == "" {
			return nil, connecthub.FieldError(field, "", "%s must not contain an empty name", field)
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// Validate checks a heartbeat and returns the ids it names, sorted (the
// order in which the drivers lock runs), without duplicates and without
// the empty id; nil when there is nothing to extend.
func (p *RunHeartbeatParams) Validate() ([]string, error) {
	switch {
	case p.Node == "":
		return nil, connecthub.FieldError("node", "", "node is required")
	case p.LeaseTTL <= 0:
		return nil, connecthub.FieldError("lease_ttl", "", "lease TTL must be positive")
	case p.Now.IsZero():
		return nil, connecthub.FieldError("now", "", "now is required")
	}
	for id, a := range p.Attempts {
		if a < 0 || a > maxInt {
			return nil, connecthub.FieldError("attempts", "", "the attempt of run %s must be between 0 and %d", id, maxInt)
		}
	}
	ids := slices.Compact(slices.Sorted(slices.Values(p.IDs)))
	if len(ids) > 0 && ids[0] == "" {
		ids = ids[1:]
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return ids, nil
}

// ValidateOutcomes checks a RunComplete batch before anything is written: a
// bad outcome fails the whole call. Each outcome names a run, a node and
// Now, has a terminal or QUEUED status, an attempt between 0 and 2^31-1 and
// a result that is empty or JSON. It reports whether any outcome re-queues.
func ValidateOutcomes(outcomes []RunOutcome) (requeues bool, err error) {
	for i := range outcomes {
		o := &outcomes[i]
		switch {
		case o.ID == "":
			return false, connecthub.FieldError("id", "", "outcome %d: run id is required", i)
		case o.Node == "":
			return false, connecthub.FieldError("node", "", "outcome %d: node is required", i)
		case o.Now.IsZero():
			return false, connecthub.FieldError("now", "", "outcome %d: now is required", i)
		case len(o.Result) > 0 && !json.Valid(o.Result):
			return false, connecthub.FieldError("result", "", "outcome %d: result must be valid JSON", i)
		case o.Attempt < 0 || o.Attempt > maxInt:
			return false, connecthub.FieldError("attempt", "", "outcome %d: attempt must be between 0 and %d", i, maxInt)
		}
		switch o.Status {
		case connecthub.StatusSuccess, connecthub.StatusFailure, connecthub.StatusCanceled:
		case connecthub.StatusQueued:
			requeues = true
		default:
			return false, connecthub.FieldError("status", "", "outcome %d: status must be SUCCESS, FAILURE, CANCELED or QUEUED, not %q", i, o.Status)
		}
	}
	return requeues, nil
}

// PrepareFires checks a JobsFire call before anything is written (a bad
// element fails the whole call) and returns, for each fire, the rows of its
// runs: copies of the caller's runs with the job id, status QUEUED, trigger
// cron and PrepareRun's defaults. An empty Concurrency means forbid.
func PrepareFires(fires []JobFireParams) ([][]*connecthub.Run, error) {
	rows := make([][]*connecthub.Run, len(fires))
	for i, f := range fires {
		switch {
		case f.JobID == "":
			return nil, connecthub.FieldError("job_id", "", "fire %d: job_id is required", i)
		case f.Now.IsZero():
			return nil, connecthub.FieldError("now", "", "fire %d: now is required", i)
		}
		switch f.Concurrency {
		case "", connecthub.ConcurrencyForbid, connecthub.ConcurrencyAllow, connecthub.ConcurrencyReplace:
		default:
			return nil, connecthub.FieldError("concurrency", "", "fire %d: concurrency must be one of forbid, allow, replace", i)
		}
		rows[i] = make([]*connecthub.Run, len(f.Runs))
		for j, r := range f.Runs {
			if r == nil {
				return nil, connecthub.FieldError("runs", "", "fire %d: run %d is nil", i, j)
			}
			c := *r
			if c.JobID == "" {
				c.JobID = f.JobID
			} else if c.JobID != f.JobID {
				return nil, connecthub.FieldError("runs", "", "fire %d: run %d belongs to job %q, not %q", i, j, c.JobID, f.JobID)
			}
			c.Status = connecthub.StatusQueued
			c.Trigger = connecthub.TriggerCron
			row, err := PrepareRun(&c)
			if err != nil {
				return nil, err
			}
			rows[i][j] = row
		}
	}
	return rows, nil
}

// Validate checks a node keepalive.
func (p *NodeKeepaliveParams) Validate() error {
	switch {
	case p.Name == "":
		return connecthub.FieldError("name", "", "node name is required")
	case p.Now.IsZero():
		return connecthub.FieldError("now", "", "now is required")
	case p.Running < 0 || p.Running > maxInt:
		return connecthub.FieldError("running", "", "running must be between 0 and %d", maxInt)
	case p.PresentState != "" && !ValidPresentState(p.PresentState):
		return BadPresentState(p.PresentState)
	}
	return nil
}

// CheckSettingState checks an operator's setting state.
func CheckSettingState(s string) error {
	if s != connecthub.NodeActive && s != connecthub.NodeInactive {
		return connecthub.FieldError("setting_state", "", "setting_state must be %s or %s, not %q",
			connecthub.NodeActive, connecthub.NodeInactive, s)
	}
	return nil
}

// NodeRow is a node registration as both drivers store it: its states with
// the defaults applied and its lists and labels encoded for their JSON
// columns.
type NodeRow struct {
	Setting, Present         string
	Queues, Handlers, Labels string
}

// PrepareNode checks a registration (NodeUpsert) and returns what the
// drivers store besides the node's plain fields. An empty SettingState
// means active, an empty PresentState activating.
func PrepareNode(n *connecthub.Node) (NodeRow, error) {
	var row NodeRow
	if n == nil {
		return row, connecthub.Errorf(connecthub.KindInvalid, "node is required")
	}
	row.Setting, row.Present = n.SettingState, n.PresentState
	if row.Setting == "" {
		row.Setting = connecthub.NodeActive
	}
	if row.Present == "" {
		row.Present = connecthub.NodeActivating
	}
	switch {
	case n.Name == "":
		return row, connecthub.FieldError("name", "", "node name is required")
	case CheckSettingState(row.Setting) != nil:
		return row, CheckSettingState(row.Setting)
	case !ValidPresentState(row.Present):
		return row, BadPresentState(row.Present)
	case n.RegisteredAt.IsZero():
		return row, connecthub.FieldError("registered_at", "", "registered_at is required")
	case n.LastHeartbeat.IsZero():
		return row, connecthub.FieldError("last_heartbeat", "", "last_heartbeat is required")
	}
	for _, f := range []struct {
		name  string
		value int
	}{{"max_concurrency", n.MaxConcurrency}, {"metrics_port", n.MetricsPort}, {"running", n.Running}} {
		if f.value < 0 || f.value > maxInt {
			return row, connecthub.FieldError(f.name, "", "%s must be between 0 and %d", f.name, maxInt)
		}
	}
	var err error
	row.Queues, row.Handlers, row.Labels, err = EncodeNodeDocs(n)
	return row, err
}

// CheckToken checks a token TokenCreate is given.
func CheckToken(t *connecthub.Token) error {
	switch {
	case t == nil:
		return connecthub.Errorf(connecthub.KindInvalid, "token is required")
	case t.ID == "":
		return connecthub.FieldError("id", "", "token id is required")
	case t.Name == "":
		return connecthub.FieldError("name", "", "token name is required")
	case t.Hash == "":
		return connecthub.FieldError("hash", "", "token hash is required")
	case t.Scope != connecthub.ScopeAdmin && t.Scope != connecthub.ScopeWorker && t.Scope != connecthub.ScopeUser:
		return connecthub.FieldError("scope", "", "scope must be %s, %s or %s, not %q", connecthub.ScopeAdmin, connecthub.ScopeWorker, connecthub.ScopeUser, t.Scope)
	case t.Scope == connecthub.ScopeUser && t.Owner == "":
		return connecthub.FieldError("owner", "", "a user-scope token needs an owner")
	case t.Scope != connecthub.ScopeUser && t.Owner != "":
		return connecthub.FieldError("owner", "", "only a user-scope token has an owner")
	case t.CreatedAt.IsZero():
		return connecthub.FieldError("created_at", "", "created_at is required")
	}
	return nil
}
