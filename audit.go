package connecthub

import "time"

// AuditChange is one field an audited change changed, before and after,
// as text. A secret is never recorded: a change of secret_cfg reads
// "keys [a, b] changed".
type AuditChange struct {
	Field  string `json:"field"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// Actor kinds of audit entries, besides the principal kinds (a user's
// session or token, an admin token): the server itself and its scheduler.
const (
	ActorSystem    = "system"
	ActorScheduler = "scheduler"
	ActorAnonymous = "anonymous" // a failed sign-in names no one yet
)

// AuditEntry records one change or sign-in: who (Actor, its kind, and
// whether it was the break-glass admin), what (Action, Target, the
// changed fields), from where (Client) and when. Entries are append-only:
// no API edits or deletes them; only the retention cleaner removes the
// oldest.
type AuditEntry struct {
	ID         int64         `json:"id"`
	At         time.Time     `json:"at"`
	Actor      string        `json:"actor"`
	ActorKind  string        `json:"actor_kind"`
	BreakGlass bool          `json:"break_glass,omitempty"`
	Action     string        `json:"action"`
	Target     string        `json:"target"`
	Client     string        `json:"client"`
	Changes    []AuditChange `json:"changes,omitempty"`
	Detail     string        `json:"detail,omitempty"`
}

// AuditFilter selects audit entries, newest first. Actor and Target are
// exact; Action is exact, or a prefix when it ends with "." ("job."
// selects every job action). Since is inclusive, Until exclusive.
type AuditFilter struct {
	Actor  string
	Action string
	Target string
	Since  time.Time
	Until  time.Time
	Limit  int
	Cursor string
}
