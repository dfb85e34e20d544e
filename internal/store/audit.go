package store

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/connecthub/connecthub"
)

// AuditStore keeps the audit log. It is append-only through this
// interface: nothing edits an entry, and only AuditPurge (the retention
// cleaner) deletes, the oldest first.
//
// The entry of a change is written in the same transaction as the change:
// the caller puts it in the context of the mutation (WithAudit), and the
// driver's write transaction inserts it before it commits, so that a
// change is never recorded without happening nor happens without being
// recorded, and an audit write that fails fails the change. Every
// mutation of the store honours a pending entry; an entry is written by
// the first write transaction of its context that commits, once.
type AuditStore interface {
	// AuditAppend writes an entry that records no change of the store
	// (a failed sign-in). CheckAudit applies; ID is set.
	AuditAppend(ctx context.Context, e *connecthub.AuditEntry) error
	// AuditList returns a page of entries that f selects, newest (highest
	// id) first, and the cursor of the next page ("" after the last).
	// CheckAuditFilter applies.
	AuditList(ctx context.Context, f connecthub.AuditFilter) ([]*connecthub.AuditEntry, string, error)
	// AuditPurge deletes the entries older than before (At < before), at
	// most limit of them (1..10000), oldest first, and returns how many.
	AuditPurge(ctx context.Context, before time.Time, limit int) (int64, error)
}

// Bounds of what an audit entry holds, so that one entry cannot grow the
// log without limit. Values longer than MaxAuditValue are cut by
// AuditValue, never refused: an audit entry must not fail a change that
// is itself valid.
const (
	MaxAuditChanges = 64
	MaxAuditValue   = 512
	MaxAuditDetail  = 1024
	MaxAuditPurge   = 10000
)

var auditActionPattern = regexp.MustCompile(`^[a-z_]{1,32}(\.[a-z_]{1,32}){0,3}$`)

// CheckAudit checks an entry before a driver writes it.
func CheckAudit(e *connecthub.AuditEntry) error {
	switch {
	case e == nil:
		return connecthub.Errorf(connecthub.KindInvalid, "audit entry is required")
	case e.At.IsZero():
		return connecthub.FieldError("at", "", "audit entry time is required")
	case !auditActionPattern.MatchString(e.Action):
		return connecthub.FieldError("action", "", "audit action %q must look like job.update", e.Action)
	case e.Actor == "" || len(e.Actor) > 160 || e.ActorKind == "" || len(e.ActorKind) > 32:
		return connecthub.FieldError("actor", "", "audit actor and its kind are required (at most 160 and 32 bytes)")
	case len(e.Target) > 300 || len(e.Client) > 64 || len(e.Detail) > MaxAuditDetail:
		return connecthub.FieldError("target", "", "audit target, client or detail too long")
	case len(e.Changes) > MaxAuditChanges:
		return connecthub.FieldError("changes", "", "an audit entry records at most %d changed fields", MaxAuditChanges)
	}
	for _, s := range []string{e.Actor, e.ActorKind, e.Action, e.Target, e.Client, e.Detail} {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			return connecthub.FieldError("audit", "", "audit text must be UTF-8 without NUL characters")
		}
	}
	for _, c := range e.Changes {
		if c.Field == "" || len(c.Field) > 64 || len(c.Before) > MaxAuditValue+8 || len(c.After) > MaxAuditValue+8 ||
			!utf8.ValidString(c.Before+c.After+c.Field) || strings.ContainsRune(c.Before+c.After+c.Field, 0) {
			return connecthub.FieldError("changes", "", "audit change of %q is malformed or too long", c.Field)
		}
	}
	return nil
}

// AuditValue turns a value into the text an audit change records: JSON
// for anything but a string, cut to MaxAuditValue bytes of valid UTF-8.
func AuditValue(v any) string {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case json.RawMessage:
		s = string(x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			s = fmt.Sprint(x)
		} else {
			s = string(b)
		}
	}
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	if len(s) > MaxAuditValue {
		cut := MaxAuditValue
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// jobAuditSkip are the job's fields an update does not record: times the
// server sets, and the secret fields, recorded as one secret_cfg change.
var jobAuditSkip = map[string]bool{"last_run_at": true, "next_run_at": true, "created_at": true, "updated_at": true,
	"secret_keys": true, "has_secret": true}

// JobAuditChanges lists what an update changed in a job, field by field
// in JSON order of the names, with the secrets as "keys [a, b] changed"
// (never a value, not even encrypted). A nil before records a creation.
func JobAuditChanges(before, after *connecthub.Job) []connecthub.AuditChange {
	var b, a map[string]json.RawMessage
	if before != nil {
		raw, _ := json.Marshal(before)
		_ = json.Unmarshal(raw, &b)
	}
	raw, _ := json.Marshal(after)
	_ = json.Unmarshal(raw, &a)
	keys := make([]string, 0, len(a))
	for k := range a {
		if !jobAuditSkip[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []connecthub.AuditChange
	for _, k := range keys {
		if before != nil && string(b[k]) == string(a[k]) {
			continue
		}
		c := connecthub.AuditChange{Field: k, After: AuditValue(jsonText(a[k]))}
		if before != nil {
			c.Before = AuditValue(jsonText(b[k]))
		}
		out = append(out, c)
	}
	oldSecret := ""
	var oldKeys []string
	if before != nil {
		oldSecret, oldKeys = before.SecretCfg, before.SecretKeys
	}
	if oldSecret != after.SecretCfg {
		keys := slices.Sorted(slices.Values(append(slices.Clone(oldKeys), after.SecretKeys...)))
		keys = slices.Compact(keys)
		out = append(out, connecthub.AuditChange{Field: "secret_cfg", After: AuditValue("keys [" + strings.Join(keys, ", ") + "] changed")})
	}
	return out
}

// jsonText shows a JSON value as text: a string without its quotes.
func jsonText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// UserAuditChanges lists what an update changed in a user; a password
// change is recorded as such, never its hash.
func UserAuditChanges(before, after *connecthub.User) []connecthub.AuditChange {
	var out []connecthub.AuditChange
	add := func(field, b, a string) {
		if b != a {
			out = append(out, connecthub.AuditChange{Field: field, Before: AuditValue(b), After: AuditValue(a)})
		}
	}
	add("display_name", before.DisplayName, after.DisplayName)
	add("role", string(before.Role), string(after.Role))
	add("disabled", strconv.FormatBool(before.Disabled), strconv.FormatBool(after.Disabled))
	if before.PasswordHash != after.PasswordHash {
		out = append(out, connecthub.AuditChange{Field: "password", After: "changed"})
	}
	if before.OIDCLinkAllowed != after.OIDCLinkAllowed {
		out = append(out, OIDCLinkAuditChange(after.OIDCLinkAllowed))
	}
	return out
}

// OIDCLinkAuditChange is the audit change of setting (allow) or clearing
// a user's link mark.
func OIDCLinkAuditChange(allow bool) connecthub.AuditChange {
	if allow {
		return connecthub.AuditChange{Field: "oidc_link", Before: "not allowed", After: "allowed"}
	}
	return connecthub.AuditChange{Field: "oidc_link", Before: "allowed", After: "not allowed"}
}

// CheckAuditFilter checks AuditList's filter and returns the page limit
// and the id the page starts below (0: from the newest).
func CheckAuditFilter(f connecthub.AuditFilter) (limit int, below int64, err error) {
	if limit, err = PageLimit(f.Limit); err != nil {
		return 0, 0, err
	}
	if f.Cursor != "" {
		below, err = strconv.ParseInt(f.Cursor, 10, 64)
		if err != nil || below <= 0 {
			return 0, 0, connecthub.FieldError("cursor", "", "cursor %q is not one this server gave", f.Cursor)
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return 0, 0, connecthub.FieldError("until", "", "until must be after since")
	}
	return limit, below, nil
}

// AuditActionPrefix reports whether an action filter selects a prefix
// ("job.") and returns what the driver compares.
func AuditActionPrefix(action string) (value string, prefix bool) {
	if strings.HasSuffix(action, ".") {
		return action, true
	}
	return action, false
}

// AuditCursor is the cursor of the page after one that ends with e.
func AuditCursor(e *connecthub.AuditEntry) string { return strconv.FormatInt(e.ID, 10) }

// CheckAuditPurge checks AuditPurge's arguments.
func CheckAuditPurge(before time.Time, limit int) error {
	if err := CheckTime("before", before); err != nil {
		return err
	}
	if limit < 1 || limit > MaxAuditPurge {
		return connecthub.FieldError("limit", "", "limit must be between 1 and %d", MaxAuditPurge)
	}
	return nil
}

// EncodeAuditChanges is the JSON both drivers store the changes as.
func EncodeAuditChanges(c []connecthub.AuditChange) (string, error) {
	if len(c) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(c)
	return string(b), err
}

// DecodeAuditChanges reads the stored changes back.
func DecodeAuditChanges(e *connecthub.AuditEntry, stored []byte) error {
	var c []connecthub.AuditChange
	if err := json.Unmarshal(stored, &c); err != nil {
		return fmt.Errorf("decode audit %d changes: %w", e.ID, err)
	}
	if len(c) > 0 {
		e.Changes = c
	}
	return nil
}

// pendingAudit carries an entry in a context until a write transaction
// has committed it.
type pendingAudit struct {
	entry   *connecthub.AuditEntry
	written bool
}

type pendingAuditKey struct{}

// WithAudit returns ctx carrying e, to be written by the first write
// transaction of a store method called with it. e may be completed until
// that transaction writes it (a JobUpdate's function fills the changes).
func WithAudit(ctx context.Context, e *connecthub.AuditEntry) context.Context {
	return context.WithValue(ctx, pendingAuditKey{}, &pendingAudit{entry: e})
}

// AuditToWrite returns the entry a write transaction of ctx must insert
// before it commits, nil when there is none or it was written; the driver
// calls done after its commit succeeded.
func AuditToWrite(ctx context.Context) (e *connecthub.AuditEntry, done func()) {
	p, _ := ctx.Value(pendingAuditKey{}).(*pendingAudit)
	if p == nil || p.written || p.entry == nil {
		return nil, func() {}
	}
	return p.entry, func() { p.written = true }
}
