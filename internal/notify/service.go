package notify

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/store"
)

// ChannelInput is a channel as an API or page writes it. Its write-only
// parts follow secret_cfg's rule: absent (nil) keeps what is stored, ""
// clears, a value replaces. A URL equal to the one the channel shows
// (query values masked) keeps the stored query.
type ChannelInput struct {
	Name     string     `json:"name"`
	Type     string     `json:"type"`
	Language string     `json:"language"`
	URL      *string    `json:"url"`
	Secret   *string    `json:"secret"`
	SMTP     *SMTPInput `json:"smtp"`
}

// SMTPInput is an email channel's settings with the write-only password.
type SMTPInput struct {
	connecthub.ChannelSMTP
	Password *string `json:"password"`
}

// RuleInput is an alert rule as an API or page writes it. Enabled
// defaults to true and QuietPeriod to connecthub.DefaultQuietPeriod when
// absent.
type RuleInput struct {
	Name        string               `json:"name"`
	Enabled     *bool                `json:"enabled"`
	Match       connecthub.RuleMatch `json:"match"`
	Event       string               `json:"event"`
	Threshold   string               `json:"threshold"`
	Channels    []string             `json:"channels"`
	QuietPeriod *connecthub.Duration `json:"quiet_period"`
}

// Encrypter seals a channel's write-only parts (the server's keyring).
type Encrypter interface {
	Encrypt(plaintext []byte) (string, error)
	Decrypt(token string) ([]byte, error)
}

// Service is the notifications' use cases, shared by the API, the pages
// and the CLI.
type Service struct {
	Store   store.AlertStore
	Keyring Encrypter
	Clock   clock.Clock
	// Wake is called after a test notification was written. Optional.
	Wake func()
	// ChannelsChanged is called after a channel was created or changed,
	// so that the run masker masks its new secrets at once. Optional.
	ChannelsChanged func()
}

// changed tells ChannelsChanged, if set, that the channels changed.
func (s *Service) changed() {
	if s.ChannelsChanged != nil {
		s.ChannelsChanged()
	}
}

func (s *Service) now() time.Time {
	if s.Clock == nil {
		return time.Now()
	}
	return s.Clock.Now()
}

// CreateChannel creates a channel.
func (s *Service) CreateChannel(ctx context.Context, in ChannelInput) (*connecthub.Channel, error) {
	now := s.now()
	c := &connecthub.Channel{Name: strings.TrimSpace(in.Name), CreatedAt: now, UpdatedAt: now}
	if err := s.apply(c, in, connecthub.ChannelSecret{}); err != nil {
		return nil, err
	}
	if err := s.Store.ChannelCreate(ctx, c); err != nil {
		return nil, err
	}
	s.changed()
	return c, nil
}

// UpdateChannel changes a channel; the name in the input, if any, must be
// the channel's.
func (s *Service) UpdateChannel(ctx context.Context, name string, in ChannelInput) (*connecthub.Channel, error) {
	if in.Name != "" && in.Name != name {
		return nil, store.ChannelRenamed()
	}
	audit := store.PendingAudit(ctx)
	defer s.changed()
	return s.Store.ChannelUpdate(ctx, name, func(c *connecthub.Channel) error {
		before := cloneChannel(c)
		var old connecthub.ChannelSecret
		if c.SecretToken != "" {
			plain, err := s.Keyring.Decrypt(c.SecretToken)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(plain, &old); err != nil {
				return connecthub.Errorf(connecthub.KindInternal, "channel %s: its stored secret is not readable", name)
			}
		}
		if in.Type == "" {
			in.Type = c.Type
		}
		if in.Language == "" {
			in.Language = c.Language
		}
		if in.URL == nil && in.Type == c.Type && c.URL != "" {
			u := c.URL
			in.URL = &u
		}
		if in.SMTP == nil && in.Type == c.Type && c.SMTP != nil {
			in.SMTP = &SMTPInput{ChannelSMTP: *c.SMTP}
		}
		c.UpdatedAt = s.now()
		if err := s.apply(c, in, old); err != nil {
			return err
		}
		if audit != nil {
			changed, err := s.secretsChanged(old, c)
			if err != nil {
				return err
			}
			audit.Changes = store.ChannelAuditChanges(before, c, changed)
		}
		return nil
	})
}

// apply writes in over c, with old as the write-only parts stored so far.
func (s *Service) apply(c *connecthub.Channel, in ChannelInput, old connecthub.ChannelSecret) error {
	c.Type, c.Language = in.Type, in.Language
	sec := old
	c.URL, c.SMTP = "", nil
	if in.URL != nil && strings.TrimSpace(*in.URL) != "" {
		base, query, err := connecthub.SplitChannelURL(*in.URL)
		if err != nil {
			return err
		}
		shown := connecthub.MaskedURL(base, old.Query)
		if strings.TrimSpace(*in.URL) != shown || old.Query == "" {
			sec.Query = query
		}
		c.URL = connecthub.MaskedURL(base, sec.Query)
	} else {
		sec.Query = ""
	}
	if in.Secret != nil {
		sec.Secret = strings.TrimSpace(*in.Secret)
	}
	if in.SMTP != nil {
		smtp := in.SMTP.ChannelSMTP
		c.SMTP = &smtp
		if in.SMTP.Password != nil {
			sec.Password = *in.SMTP.Password
		}
	} else {
		sec.Password = ""
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if c.Type == connecthub.ChannelEmail {
		sec.Secret = ""
	}
	c.SecretToken = ""
	if !sec.Empty() {
		plain, err := json.Marshal(sec)
		if err != nil {
			return err
		}
		if c.SecretToken, err = s.Keyring.Encrypt(plain); err != nil {
			return err
		}
	}
	c.HasSecret = sec.Secret != "" || sec.Password != ""
	return nil
}

// CreateRule creates an alert rule.
func (s *Service) CreateRule(ctx context.Context, in RuleInput) (*connecthub.AlertRule, error) {
	now := s.now()
	r := &connecthub.AlertRule{CreatedAt: now}
	applyRule(r, in, now)
	if err := s.Store.AlertRuleCreate(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// UpdateRule replaces an alert rule's settings.
func (s *Service) UpdateRule(ctx context.Context, id string, in RuleInput) (*connecthub.AlertRule, error) {
	audit := store.PendingAudit(ctx)
	return s.Store.AlertRuleUpdate(ctx, id, func(r *connecthub.AlertRule) error {
		before := *r
		before.Channels = slices.Clone(r.Channels)
		applyRule(r, in, s.now())
		if audit != nil {
			audit.Changes = store.AlertRuleAuditChanges(&before, r)
		}
		return nil
	})
}

func applyRule(r *connecthub.AlertRule, in RuleInput, now time.Time) {
	r.Name, r.Match, r.Event, r.Threshold, r.Channels = in.Name, in.Match, in.Event, in.Threshold, in.Channels
	r.Enabled = in.Enabled == nil || *in.Enabled
	r.QuietPeriod = connecthub.DefaultQuietPeriod
	if in.QuietPeriod != nil {
		r.QuietPeriod = *in.QuietPeriod
	}
	r.UpdatedAt = now
}

// TestChannel puts a test message for the channel in the outbox and wakes
// the sender; the returned notification's id follows its delivery.
func (s *Service) TestChannel(ctx context.Context, name, requestedBy string) (*connecthub.Notification, error) {
	if _, err := s.Store.ChannelGet(ctx, name); err != nil {
		return nil, err
	}
	now := s.now()
	n := &connecthub.Notification{Channel: name, Event: connecthub.EventTest, NextAttemptAt: now, CreatedAt: now,
		Alert: connecthub.Alert{Event: connecthub.EventTest, RuleName: requestedBy, At: now}}
	if err := s.Store.NotificationInsert(ctx, []*connecthub.Notification{n}); err != nil {
		return nil, err
	}
	if s.Wake != nil {
		s.Wake()
	}
	return n, nil
}
