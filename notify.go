package connecthub

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Channel types: where a notification goes.
const (
	ChannelWebhook  = "webhook"
	ChannelEmail    = "email"
	ChannelDingTalk = "dingtalk"
	ChannelWeCom    = "wecom"
	ChannelFeishu   = "feishu"
	ChannelSlack    = "slack"
)

// ChannelTypes lists the channel types in the order pages show them.
var ChannelTypes = []string{ChannelWebhook, ChannelEmail, ChannelDingTalk, ChannelWeCom, ChannelFeishu, ChannelSlack}

// The TLS modes of an email channel.
const (
	SMTPStartTLS = "starttls"
	SMTPImplicit = "implicit"
	SMTPNone     = "none"
)

// Events a rule can alert on.
const (
	EventFailure     = "failure"
	EventRecovery    = "recovery"
	EventMissed      = "missed"
	EventLongRunning = "long_running"
	EventWorkerLost  = "worker_lost"
	EventNodeDown    = "node_down"
	// EventTest is what "send test" delivers; no rule has it.
	EventTest = "test"
)

// Events lists the events a rule may name.
var Events = []string{EventFailure, EventRecovery, EventMissed, EventLongRunning, EventWorkerLost, EventNodeDown}

// Delivery statuses of a notification.
const (
	DeliveryPending = "pending"
	DeliverySent    = "sent"
	DeliveryFailed  = "failed"
)

// DefaultMissedGrace is how late a cron slot may start before "missed"
// fires, when the rule names no grace.
const DefaultMissedGrace = 5 * time.Minute

// DefaultQuietPeriod is the quiet period of a rule that names none: the
// same event for the same job is sent at most once in it.
const DefaultQuietPeriod = Duration(10 * time.Minute)

// MaskedValue replaces a write-only value wherever a channel is shown.
const MaskedValue = "******"

var channelName = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// Channel is a destination for notifications. Its write-only parts (the
// signing secret, the SMTP password and the URL's query, which carries the
// access token of DingTalk, WeCom and Slack style URLs) live encrypted in
// SecretToken and are never marshalled: URL shows the query's keys with
// masked values.
type Channel struct {
	Name     string       `json:"name"`
	Type     string       `json:"type"`
	Language string       `json:"language"`
	URL      string       `json:"url,omitempty"`
	SMTP     *ChannelSMTP `json:"smtp,omitempty"`
	// HasSecret says a signing secret (or SMTP password) is set.
	HasSecret bool      `json:"has_secret"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// SecretToken is the Fernet token of the ChannelSecret, or "".
	SecretToken string `json:"-"`
}

// ChannelSMTP is an email channel's server and addresses; its password is
// write-only and kept in the channel's secret.
type ChannelSMTP struct {
	Host     string   `json:"host"`
	Port     int      `json:"port"`
	Username string   `json:"username,omitempty"`
	From     string   `json:"from"`
	To       []string `json:"to"`
	TLS      string   `json:"tls"`
}

// ChannelSecret is what a channel's SecretToken decrypts to.
type ChannelSecret struct {
	Query    string `json:"query,omitempty"`
	Secret   string `json:"secret,omitempty"`
	Password string `json:"password,omitempty"`
}

// Empty reports whether nothing is kept.
func (s ChannelSecret) Empty() bool { return s.Query == "" && s.Secret == "" && s.Password == "" }

// SplitChannelURL splits a channel URL into the part that is shown and the
// query, which is write-only. A URL that is not absolute http(s) is an
// error naming the url field.
func SplitChannelURL(raw string) (base, query string, err error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", FieldError("url", "", "url must be an absolute http or https URL")
	}
	if u.User != nil {
		return "", "", FieldError("url", "", "url must not carry a user or password; use the secret field")
	}
	query = u.RawQuery
	u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
	return u.String(), query, nil
}

// MaskedURL is the URL a channel shows: base with each query key's value
// replaced by MaskedValue, so an operator sees which parameters are set
// but not the access token.
func MaskedURL(base, query string) string {
	if query == "" {
		return base
	}
	vals, err := url.ParseQuery(query)
	if err != nil {
		return base + "?" + MaskedValue
	}
	parts := make([]string, 0, len(vals))
	for k := range vals {
		parts = append(parts, url.QueryEscape(k)+"="+MaskedValue)
	}
	slices.Sort(parts)
	return base + "?" + strings.Join(parts, "&")
}

// Validate checks a channel's public fields (the secret is checked by the
// service, which holds it in clear).
func (c *Channel) Validate() error {
	if !channelName.MatchString(c.Name) {
		return FieldError("name", "", "name must be 1-64 characters of A-Z a-z 0-9 . _ : -")
	}
	if !slices.Contains(ChannelTypes, c.Type) {
		return FieldError("type", "", "type must be one of %s", strings.Join(ChannelTypes, ", "))
	}
	switch c.Language {
	case "":
		c.Language = "en"
	case "en", "zh-CN":
	default:
		return FieldError("language", "", "language must be en or zh-CN")
	}
	if c.Type == ChannelEmail {
		if c.URL != "" {
			return FieldError("url", "", "an email channel has smtp instead of url")
		}
		if c.SMTP == nil {
			return FieldError("smtp", "", "an email channel needs smtp")
		}
		return c.SMTP.validate()
	}
	if c.SMTP != nil {
		return FieldError("smtp", "", "only an email channel has smtp")
	}
	if c.URL == "" {
		return FieldError("url", "", "url is required")
	}
	_, _, err := SplitChannelURL(c.URL)
	return err
}

func (s *ChannelSMTP) validate() error {
	s.Host = strings.TrimSpace(s.Host)
	if s.Host == "" || strings.ContainsAny(s.Host, " /:") {
		return FieldError("smtp.host", "", "smtp.host must be a host name or address")
	}
	switch s.TLS {
	case "":
		s.TLS = SMTPStartTLS
	case SMTPStartTLS, SMTPImplicit, SMTPNone:
	default:
		return FieldError("smtp.tls", "", "smtp.tls must be starttls, implicit or none")
	}
	if s.Port == 0 {
		s.Port = map[string]int{SMTPStartTLS: 587, SMTPImplicit: 465, SMTPNone: 25}[s.TLS]
	}
	if s.Port < 1 || s.Port > 65535 {
		return FieldError("smtp.port", "", "smtp.port must be 1-65535")
	}
	if _, err := mail.ParseAddress(s.From); err != nil {
		return FieldError("smtp.from", "", "smtp.from must be an email address")
	}
	if len(s.To) == 0 {
		return FieldError("smtp.to", "", "smtp.to needs at least one address")
	}
	for _, to := range s.To {
		if _, err := mail.ParseAddress(to); err != nil {
			return FieldError("smtp.to", "", "smtp.to: %q is not an email address", to)
		}
	}
	return nil
}

// RuleMatch selects the jobs a rule is about. Empty fields match
// everything; Job is a glob over job ids (path.Match syntax: * ? [..]), so
// an id without wildcards names one job.
type RuleMatch struct {
	Job     string `json:"job"`
	Handler string `json:"handler"`
	Queue   string `json:"queue"`
}

// Matches reports whether a job with this id, handler and queue is
// selected. A node event has no job: it matches on the queue alone, and
// only rules that name no job or handler.
func (m RuleMatch) Matches(jobID, handler, queue string) bool {
	if m.Job != "" {
		if ok, _ := path.Match(m.Job, jobID); !ok {
			return false
		}
	}
	return (m.Handler == "" || m.Handler == handler) && (m.Queue == "" || m.Queue == queue)
}

// AlertRule says which event of which jobs goes to which channels.
// Threshold is N for failure, a duration ("30m") or a factor of the job's
// median duration ("3x") for long_running, and the grace for missed.
type AlertRule struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Enabled     bool      `json:"enabled"`
	Match       RuleMatch `json:"match"`
	Event       string    `json:"event"`
	Threshold   string    `json:"threshold"`
	Channels    []string  `json:"channels"`
	QuietPeriod Duration  `json:"quiet_period"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// RuleThreshold is a rule's threshold, parsed.
type RuleThreshold struct {
	// Failures is N for failure (at least 1).
	Failures int
	// Duration is long_running's absolute limit or missed's grace.
	Duration time.Duration
	// Factor is long_running's multiple of the median duration.
	Factor float64
}

// ParseThreshold parses a rule's threshold for its event.
func (r *AlertRule) ParseThreshold() (RuleThreshold, error) {
	t := strings.TrimSpace(r.Threshold)
	switch r.Event {
	case EventFailure:
		if t == "" {
			return RuleThreshold{Failures: 1}, nil
		}
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > 100 {
			return RuleThreshold{}, FieldError("threshold", "", "a failure rule's threshold is a number of consecutive failures, 1-100")
		}
		return RuleThreshold{Failures: n}, nil
	case EventLongRunning:
		if f, ok := strings.CutSuffix(t, "x"); ok {
			k, err := strconv.ParseFloat(f, 64)
			if err != nil || k < 1 || k > 1000 {
				return RuleThreshold{}, FieldError("threshold", "", "a long_running factor is like \"3x\" (1-1000 times the median duration)")
			}
			return RuleThreshold{Factor: k}, nil
		}
		d, err := time.ParseDuration(t)
		if err != nil || d < time.Second {
			return RuleThreshold{}, FieldError("threshold", "", "a long_running rule's threshold is a duration like \"30m\" (at least 1s) or a factor like \"3x\"")
		}
		return RuleThreshold{Duration: d}, nil
	case EventMissed:
		if t == "" {
			return RuleThreshold{Duration: DefaultMissedGrace}, nil
		}
		d, err := time.ParseDuration(t)
		if err != nil || d < time.Second {
			return RuleThreshold{}, FieldError("threshold", "", "a missed rule's threshold is the grace, a duration like \"5m\" (at least 1s)")
		}
		return RuleThreshold{Duration: d}, nil
	default:
		if t != "" {
			return RuleThreshold{}, FieldError("threshold", "", "a %s rule takes no threshold", r.Event)
		}
		return RuleThreshold{}, nil
	}
}

// Validate checks a rule and fills its defaults (threshold, quiet period).
func (r *AlertRule) Validate() error {
	r.Name = strings.TrimSpace(r.Name)
	if r.Name == "" || len(r.Name) > 200 {
		return FieldError("name", "", "name is required (at most 200 characters)")
	}
	if !slices.Contains(Events, r.Event) {
		return FieldError("event", "", "event must be one of %s", strings.Join(Events, ", "))
	}
	if r.Match.Job != "" {
		if _, err := path.Match(r.Match.Job, ""); err != nil {
			return FieldError("match.job", "", "match.job is not a valid glob: %v", err)
		}
	}
	if r.Event == EventNodeDown && (r.Match.Job != "" || r.Match.Handler != "") {
		return FieldError("match", "", "a node_down rule matches on queue only (a node has no job)")
	}
	th, err := r.ParseThreshold()
	if err != nil {
		return err
	}
	switch {
	case r.Event == EventFailure && strings.TrimSpace(r.Threshold) == "":
		r.Threshold = "1"
	case r.Event == EventMissed && strings.TrimSpace(r.Threshold) == "":
		r.Threshold = th.Duration.String()
	default:
		r.Threshold = strings.TrimSpace(r.Threshold)
	}
	if len(r.Channels) == 0 {
		return FieldError("channels", "", "channels needs at least one channel")
	}
	seen := map[string]bool{}
	for _, c := range r.Channels {
		if !channelName.MatchString(c) {
			return FieldError("channels", "", "%q is not a channel name", c)
		}
		if seen[c] {
			return FieldError("channels", "", "channel %q is named twice", c)
		}
		seen[c] = true
	}
	if r.QuietPeriod < 0 {
		return FieldError("quiet_period", "", "quiet_period must not be negative")
	}
	return nil
}

// Alert is the facts of one event, as a notification carries them and a
// message shows them. Error holds the first lines of the run's error,
// which the masker already cleaned before it was stored.
type Alert struct {
	Event        string     `json:"event"`
	JobID        string     `json:"job_id,omitempty"`
	RunID        string     `json:"run_id,omitempty"`
	Status       string     `json:"status,omitempty"`
	Trigger      string     `json:"trigger,omitempty"`
	Node         string     `json:"node,omitempty"`
	Handler      string     `json:"handler,omitempty"`
	Queue        string     `json:"queue,omitempty"`
	ScheduledFor *time.Time `json:"scheduled_for,omitempty"`
	StartedAt    *time.Time `json:"started_at,omitempty"`
	FinishedAt   *time.Time `json:"finished_at,omitempty"`
	Duration     Duration   `json:"duration,omitempty"`
	Error        string     `json:"error,omitempty"`
	Failures     int        `json:"failures,omitempty"`
	Threshold    string     `json:"threshold,omitempty"`
	RuleName     string     `json:"rule,omitempty"`
	At           time.Time  `json:"at"`
}

// ErrorSummaryLines is how many lines of a run's error a message shows.
const ErrorSummaryLines = 5

// ErrorSummary returns the first lines of an error text, at most 1000
// bytes, so a message stays readable in a chat group.
func ErrorSummary(text string) string {
	lines := strings.SplitN(strings.TrimSpace(text), "\n", ErrorSummaryLines+1)
	if len(lines) > ErrorSummaryLines {
		lines = append(lines[:ErrorSummaryLines], "…")
	}
	s := strings.Join(lines, "\n")
	if len(s) > 1000 {
		cut := 1000
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// DeliveryAttempt is one try to hand a notification to its channel.
type DeliveryAttempt struct {
	At       time.Time `json:"at"`
	Node     string    `json:"node,omitempty"`
	OK       bool      `json:"ok"`
	Response string    `json:"response"`
}

// Notification is one message for one channel: the outbox row that the
// sender delivers and, after, the record of its delivery.
type Notification struct {
	ID            string            `json:"id"`
	RuleID        string            `json:"rule_id,omitempty"`
	Channel       string            `json:"channel"`
	Event         string            `json:"event"`
	JobID         string            `json:"job_id,omitempty"`
	RunID         string            `json:"run_id,omitempty"`
	Alert         Alert             `json:"alert"`
	Status        string            `json:"status"`
	Attempts      int               `json:"attempts"`
	History       []DeliveryAttempt `json:"history"`
	NextAttemptAt time.Time         `json:"next_attempt_at"`
	CreatedAt     time.Time         `json:"created_at"`
	SentAt        *time.Time        `json:"sent_at,omitempty"`
}

// NotificationFilter filters and pages the delivery log.
type NotificationFilter struct {
	Channel string
	Event   string
	Status  string
	JobID   string
	Limit   int
	Cursor  string
}

// Validate checks the filter's enumerations.
func (f NotificationFilter) Validate() error {
	if f.Event != "" && f.Event != EventTest && !slices.Contains(Events, f.Event) {
		return FieldError("event", "", "event must be one of %s or test", strings.Join(Events, ", "))
	}
	switch f.Status {
	case "", DeliveryPending, DeliverySent, DeliveryFailed:
		return nil
	}
	return FieldError("status", "", "status must be pending, sent or failed")
}

// MarshalAlert encodes an alert for the outbox.
func MarshalAlert(a *Alert) (string, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return "", fmt.Errorf("encode alert: %w", err)
	}
	return string(b), nil
}
