package store

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/connecthub/connecthub"
)

// PendingAudit returns the audit entry a change made with ctx will
// write (nil when there is none or it was written), so that a use case
// can record the changed fields from inside the change's transaction,
// where it sees the stored record before and after.
func PendingAudit(ctx context.Context) *connecthub.AuditEntry {
	e, _ := AuditToWrite(ctx)
	return e
}

// notifyAuditSkip are the fields of channels and alert rules an update
// does not record: times the server sets, and has_secret, which the
// channel's secret change records better.
var notifyAuditSkip = map[string]bool{"created_at": true, "updated_at": true, "has_secret": true}

// ChannelAuditChanges lists what an update changed in a channel, field
// by field (its URL as shown, with the write-only query masked), and its
// write-only parts (the URL's query, the signing secret, the SMTP
// password) by name only: "keys [password] changed", never a value.
func ChannelAuditChanges(before, after *connecthub.Channel, secretsChanged []string) []connecthub.AuditChange {
	out := fieldAuditChanges(before, after)
	if len(secretsChanged) > 0 {
		keys := slices.Compact(slices.Sorted(slices.Values(secretsChanged)))
		out = append(out, connecthub.AuditChange{Field: "secret", After: AuditValue("keys [" + strings.Join(keys, ", ") + "] changed")})
	}
	return out
}

// AlertRuleAuditChanges lists what an update changed in an alert rule.
func AlertRuleAuditChanges(before, after *connecthub.AlertRule) []connecthub.AuditChange {
	return fieldAuditChanges(before, after)
}

// fieldAuditChanges compares two records by their JSON fields, in name
// order, leaving out notifyAuditSkip.
func fieldAuditChanges(before, after any) []connecthub.AuditChange {
	var b, a map[string]json.RawMessage
	raw, _ := json.Marshal(before)
	_ = json.Unmarshal(raw, &b)
	raw, _ = json.Marshal(after)
	_ = json.Unmarshal(raw, &a)
	var names []string
	for k := range a {
		names = append(names, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			names = append(names, k) // omitted after: cleared
		}
	}
	slices.Sort(names)
	var out []connecthub.AuditChange
	for _, k := range names {
		if notifyAuditSkip[k] || string(b[k]) == string(a[k]) {
			continue
		}
		out = append(out, connecthub.AuditChange{Field: k, Before: AuditValue(auditJSONText(b[k])), After: AuditValue(auditJSONText(a[k]))})
	}
	return out
}

// auditJSONText shows a JSON value as text: a string without its quotes,
// nothing for a field that is not there.
func auditJSONText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	return jsonText(raw)
}
