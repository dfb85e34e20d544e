package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
)

// AlertStore keeps notification channels, alert rules, the outbox of
// notifications and their delivery log.
//
// How events reach the outbox without ever being lost: the driver records
// (by a trigger, or in its own statements where a trigger would cost a
// call per row), in the very transaction that ends a run (SUCCESS or
// FAILURE), loses its worker (error "worker lost") or declares a node
// dead, one row in the alert_events table, but only while some enabled
// rule could care. AlertProcess consumes those rows in
// a transaction of its own that evaluates the rules and writes the
// notifications; a crash between the two leaves the rows for the next
// call. AlertCheck finds what no transaction marks (missed slots, long
// runs) and writes its notifications the same way. Both are serialized
// across replicas, so the quiet-period and recovery state is never
// decided twice.
type AlertStore interface {
	// ChannelCreate inserts a channel; KindConflict if the name exists.
	ChannelCreate(ctx context.Context, c *connecthub.Channel) error
	// ChannelGet returns a channel with its SecretToken; KindNotFound if
	// none.
	ChannelGet(ctx context.Context, name string) (*connecthub.Channel, error)
	// ChannelList returns every channel by name, with SecretToken.
	ChannelList(ctx context.Context) ([]*connecthub.Channel, error)
	// ChannelUpdate reads the channel, calls update and writes the result
	// in one write transaction; update may not rename it.
	ChannelUpdate(ctx context.Context, name string, update func(*connecthub.Channel) error) (*connecthub.Channel, error)
	// ChannelDelete deletes a channel; KindConflict (channel_in_use) while
	// a rule names it.
	ChannelDelete(ctx context.Context, name string) error

	// AlertRuleCreate inserts a rule with a new id (a ULID); every channel
	// it names must exist, else KindInvalid on field channels.
	AlertRuleCreate(ctx context.Context, r *connecthub.AlertRule) error
	// AlertRuleGet returns a rule; KindNotFound if none.
	AlertRuleGet(ctx context.Context, id string) (*connecthub.AlertRule, error)
	// AlertRuleList returns every rule, oldest first.
	AlertRuleList(ctx context.Context) ([]*connecthub.AlertRule, error)
	// AlertRuleUpdate reads, updates and writes a rule in one write
	// transaction, with the channel check of AlertRuleCreate.
	AlertRuleUpdate(ctx context.Context, id string, update func(*connecthub.AlertRule) error) (*connecthub.AlertRule, error)
	// AlertRuleDelete deletes a rule and its quiet-period state.
	AlertRuleDelete(ctx context.Context, id string) error

	// AlertProcess consumes up to limit recorded events, oldest first,
	// applies the rules to each (DecideRunEnd and friends) and writes the
	// notifications they decide, in one transaction. It returns how many
	// events it consumed; 0 also when another replica is at it.
	AlertProcess(ctx context.Context, now time.Time, limit int) (int, error)
	// AlertCheck looks for missed cron slots and long runs at now and
	// writes the notifications the rules decide (DecideCheck), in one
	// transaction. It returns how many notifications it wrote.
	AlertCheck(ctx context.Context, now time.Time) (int, error)
	// AlertPending reports whether recorded events wait for AlertProcess,
	// with one cheap read, so a poll costs nothing while all is quiet.
	AlertPending(ctx context.Context) (bool, error)

	// NotificationInsert writes notifications as they are (a "send test"),
	// with new ids, status pending and available at their NextAttemptAt.
	NotificationInsert(ctx context.Context, ns []*connecthub.Notification) error
	// NotificationClaim leases up to Max pending notifications whose
	// next_attempt_at has come and whose lease (if any) has expired, oldest
	// first, to Owner until Now+LeaseTTL. Two claimers never hold the same
	// notification at once.
	NotificationClaim(ctx context.Context, p NotificationClaimParams) ([]*connecthub.Notification, error)
	// NotificationRecord records one delivery attempt of a notification
	// that Owner still holds; it reports false (and writes nothing) when
	// the lease was lost.
	NotificationRecord(ctx context.Context, r NotificationResult) (bool, error)
	// NotificationGet returns one notification; KindNotFound if none.
	NotificationGet(ctx context.Context, id string) (*connecthub.Notification, error)
	// NotificationList lists notifications newest first, after Cursor, and
	// returns the next cursor.
	NotificationList(ctx context.Context, f connecthub.NotificationFilter) ([]*connecthub.Notification, string, error)
	// NotificationPrune deletes up to limit sent or failed notifications
	// created before `before`, oldest first, and returns how many; pending
	// ones are kept whatever their age.
	NotificationPrune(ctx context.Context, before time.Time, limit int) (int64, error)
}

// NotificationClaimParams asks for notifications to send.
type NotificationClaimParams struct {
	Owner    string
	Max      int
	LeaseTTL time.Duration
	Now      time.Time
}

// Validate checks a claim.
func (p NotificationClaimParams) Validate() error {
	if p.Owner == "" {
		return connecthub.FieldError("owner", "", "a claim needs an owner")
	}
	if p.Max < 1 {
		return connecthub.FieldError("max", "", "a claim takes at least one notification")
	}
	if p.LeaseTTL <= 0 {
		return connecthub.FieldError("lease_ttl", "", "a claim needs a lease")
	}
	return CheckTime("now", p.Now)
}

// NotificationResult is one delivery attempt's outcome. Sent ends the
// notification sent; Failed ends it failed (no tries left); neither
// leaves it pending until NextAttemptAt, with the lease released.
type NotificationResult struct {
	ID            string
	Owner         string
	Attempt       connecthub.DeliveryAttempt
	Sent, Failed  bool
	NextAttemptAt time.Time
}

// Validate checks a result.
func (r NotificationResult) Validate() error {
	if r.ID == "" || r.Owner == "" {
		return connecthub.FieldError("id", "", "a result names its notification and owner")
	}
	if r.Sent && r.Failed {
		return connecthub.FieldError("status", "", "a delivery is sent or failed, not both")
	}
	if !r.Sent && !r.Failed {
		if err := CheckTime("next_attempt_at", r.NextAttemptAt); err != nil {
			return err
		}
	}
	return CheckTime("at", r.Attempt.At)
}

// PrepareChannel checks a channel before it is written and encodes its
// SMTP settings (nil for channels without).
func PrepareChannel(c *connecthub.Channel) (smtp *string, err error) {
	if c == nil {
		return nil, connecthub.FieldError("channel", "", "a channel is required")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := CheckTime("created_at", c.CreatedAt); err != nil {
		return nil, err
	}
	if err := CheckTime("updated_at", c.UpdatedAt); err != nil {
		return nil, err
	}
	if c.SMTP == nil {
		return nil, nil
	}
	b, err := json.Marshal(c.SMTP)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}

// DecodeChannelSMTP decodes a stored SMTP column (nil or "" for none).
func DecodeChannelSMTP(c *connecthub.Channel, raw []byte) error {
	if len(raw) == 0 {
		return nil
	}
	c.SMTP = &connecthub.ChannelSMTP{}
	if err := json.Unmarshal(raw, c.SMTP); err != nil {
		return fmt.Errorf("channel %s: stored smtp: %w", c.Name, err)
	}
	c.HasSecret = c.SecretToken != ""
	return nil
}

// ChannelRenamed is the error of an update function that renames a
// channel.
func ChannelRenamed() error {
	return connecthub.FieldError("name", "", "a channel cannot be renamed; create a new one")
}

// ChannelExists is ChannelCreate's conflict when the name is taken; err is
// the database's unique violation, kept for logs.
func ChannelExists(name string, err error) error {
	return &connecthub.Error{Kind: connecthub.KindConflict, Code: "channel_exists", Args: []string{name},
		Message: "a channel named " + name + " already exists", Err: err}
}

// ChannelInUse is ChannelDelete's error while rules name the channel.
func ChannelInUse(name string) error {
	return &connecthub.Error{Kind: connecthub.KindConflict, Code: "channel_in_use", Args: []string{name},
		Message: fmt.Sprintf("channel %q is used by alert rules; remove it from them first", name)}
}

// UnknownRuleChannel is the error for a rule that names a channel that
// does not exist.
func UnknownRuleChannel() error {
	return connecthub.FieldError("channels", "unknown_channel", "channels names a channel that does not exist")
}

// PrepareAlertRule checks a rule before it is written.
func PrepareAlertRule(r *connecthub.AlertRule) error {
	if r == nil {
		return connecthub.FieldError("rule", "", "a rule is required")
	}
	if err := r.Validate(); err != nil {
		return err
	}
	if err := CheckTime("created_at", r.CreatedAt); err != nil {
		return err
	}
	return CheckTime("updated_at", r.UpdatedAt)
}

// RuleChanged is the error of an update function that changes a rule's id.
func RuleChanged() error {
	return connecthub.FieldError("id", "", "a rule's id cannot change")
}

// NotificationLimit checks a delivery-log page size like PageLimit.
func NotificationLimit(f connecthub.NotificationFilter) (int, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	return PageLimit(f.Limit)
}

// EncodeNotification returns the JSON columns of a notification: its
// alert and its history.
func EncodeNotification(n *connecthub.Notification) (alert, history string, err error) {
	a, err := json.Marshal(n.Alert)
	if err != nil {
		return "", "", err
	}
	h := n.History
	if h == nil {
		h = []connecthub.DeliveryAttempt{}
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return "", "", err
	}
	return string(a), string(hb), nil
}

// DecodeNotification fills a notification's alert and history from their
// columns.
func DecodeNotification(n *connecthub.Notification, alert, history []byte) error {
	if err := json.Unmarshal(alert, &n.Alert); err != nil {
		return fmt.Errorf("notification %s: stored alert: %w", n.ID, err)
	}
	n.History = []connecthub.DeliveryAttempt{}
	if err := json.Unmarshal(history, &n.History); err != nil {
		return fmt.Errorf("notification %s: stored history: %w", n.ID, err)
	}
	return nil
}

// Delivery is what NotificationRecord writes.
type Delivery struct {
	Status  string
	History string
	SentAt  *time.Time
	Next    time.Time
}

// DecideDelivery applies one attempt's result to a notification's stored
// history: the attempt is appended (the history keeps the latest
// MaxDeliveryHistory), and the status follows the result.
func DecideDelivery(history []byte, r NotificationResult) (Delivery, error) {
	var h []connecthub.DeliveryAttempt
	if err := json.Unmarshal(history, &h); err != nil {
		return Delivery{}, fmt.Errorf("notification %s: stored history: %w", r.ID, err)
	}
	h = append(h, r.Attempt)
	if len(h) > MaxDeliveryHistory {
		h = h[len(h)-MaxDeliveryHistory:]
	}
	b, err := json.Marshal(h)
	if err != nil {
		return Delivery{}, err
	}
	d := Delivery{Status: connecthub.DeliveryPending, History: string(b), Next: r.NextAttemptAt}
	switch {
	case r.Sent:
		at := r.Attempt.At
		d.Status, d.SentAt, d.Next = connecthub.DeliverySent, &at, at
	case r.Failed:
		d.Status, d.Next = connecthub.DeliveryFailed, r.Attempt.At
	}
	return d, nil
}

// MaxDeliveryHistory bounds the attempts a notification keeps.
const MaxDeliveryHistory = 20

// DecodeRuleChannels fills a rule's channels from a JSON array column.
func DecodeRuleChannels(r *connecthub.AlertRule, raw []byte) error {
	r.Channels = []string{}
	if err := json.Unmarshal(raw, &r.Channels); err != nil {
		return fmt.Errorf("alert rule %s: stored channels: %w", r.ID, err)
	}
	return nil
}

// SecretKindChannel is how SecretTokens reports a channel's token.
const SecretKindChannel = "channel"

// PrepareNotification checks a notification NotificationInsert is given.
func PrepareNotification(n *connecthub.Notification) error {
	if n == nil {
		return connecthub.FieldError("notification", "", "a notification is required")
	}
	if n.Channel == "" {
		return connecthub.FieldError("channel", "", "a notification names its channel")
	}
	if n.Event == "" {
		return connecthub.FieldError("event", "", "a notification names its event")
	}
	if err := CheckTime("created_at", n.CreatedAt); err != nil {
		return err
	}
	return CheckTime("next_attempt_at", n.NextAttemptAt)
}

// InsertNotifications is NotificationInsert's rule: every notification is
// checked (PrepareNotification) before anything is written; then, in one
// transaction, each gets a new id from its creation time, status pending
// and no attempts, and insert writes them all.
func InsertNotifications[Tx any](inTx InTx[Tx], ids *IDGen, ns []*connecthub.Notification,
	insert func(tx Tx, ns []*connecthub.Notification) error) error {
	for _, n := range ns {
		if err := PrepareNotification(n); err != nil {
			return err
		}
	}
	return inTx(func(tx Tx) error {
		for _, n := range ns {
			id, err := ids.Next(n.CreatedAt)
			if err != nil {
				return err
			}
			n.ID, n.Status, n.Attempts = id, connecthub.DeliveryPending, 0
		}
		return insert(tx, ns)
	})
}

// SortNotifications orders claimed notifications as the claim took them:
// by due time, then id.
func SortNotifications(ns []*connecthub.Notification) {
	slices.SortFunc(ns, func(a, b *connecthub.Notification) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// CheckPrune checks NotificationPrune's arguments.
func CheckPrune(before time.Time, limit int) error {
	if err := CheckTime("before", before); err != nil {
		return err
	}
	if limit < 1 {
		return connecthub.FieldError("limit", "", "limit must be at least 1")
	}
	return nil
}
