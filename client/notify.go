package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/connecthub/connecthub"
)

// ListChannels returns the notification channels (their secrets are never
// returned).
func (c *Client) ListChannels(ctx context.Context) ([]connecthub.Channel, error) {
	var out struct {
		Channels []connecthub.Channel `json:"channels"`
	}
	return out.Channels, c.do(ctx, http.MethodGet, "/api/v1/channels", nil, nil, &out)
}

// CreateChannel creates a channel from its JSON definition.
func (c *Client) CreateChannel(ctx context.Context, body json.RawMessage) (*connecthub.Channel, error) {
	var out connecthub.Channel
	return &out, c.do(ctx, http.MethodPost, "/api/v1/channels", nil, body, &out)
}

// UpdateChannel changes a channel; absent secrets are kept.
func (c *Client) UpdateChannel(ctx context.Context, name string, body json.RawMessage) (*connecthub.Channel, error) {
	var out connecthub.Channel
	return &out, c.do(ctx, http.MethodPatch, "/api/v1/channels/"+url.PathEscape(name), nil, body, &out)
}

// DeleteChannel deletes a channel no rule uses.
func (c *Client) DeleteChannel(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/channels/"+url.PathEscape(name), nil, nil, nil)
}

// TestChannel queues a test message and returns its notification, whose
// delivery GetNotification follows.
func (c *Client) TestChannel(ctx context.Context, name string) (*connecthub.Notification, error) {
	var out connecthub.Notification
	return &out, c.do(ctx, http.MethodPost, "/api/v1/channels/"+url.PathEscape(name)+"/test", nil, nil, &out)
}

// ListAlertRules returns the alert rules.
func (c *Client) ListAlertRules(ctx context.Context) ([]connecthub.AlertRule, error) {
	var out struct {
		Rules []connecthub.AlertRule `json:"alert_rules"`
	}
	return out.Rules, c.do(ctx, http.MethodGet, "/api/v1/alert-rules", nil, nil, &out)
}

// CreateAlertRule creates a rule from its JSON definition.
func (c *Client) CreateAlertRule(ctx context.Context, body json.RawMessage) (*connecthub.AlertRule, error) {
	var out connecthub.AlertRule
	return &out, c.do(ctx, http.MethodPost, "/api/v1/alert-rules", nil, body, &out)
}

// DeleteAlertRule deletes a rule.
func (c *Client) DeleteAlertRule(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/alert-rules/"+url.PathEscape(id), nil, nil, nil)
}

// NotificationList is a page of the delivery log.
type NotificationList struct {
	Notifications []connecthub.Notification `json:"notifications"`
	NextCursor    string                    `json:"next_cursor"`
}

// ListNotifications returns a page of the delivery log, newest first;
// query may hold channel, event, status, job_id, limit and cursor.
func (c *Client) ListNotifications(ctx context.Context, query url.Values) (*NotificationList, error) {
	var out NotificationList
	return &out, c.do(ctx, http.MethodGet, "/api/v1/notifications", query, nil, &out)
}

// GetNotification returns one notification with its delivery history.
func (c *Client) GetNotification(ctx context.Context, id string) (*connecthub.Notification, error) {
	var out connecthub.Notification
	return &out, c.do(ctx, http.MethodGet, "/api/v1/notifications/"+url.PathEscape(id), nil, nil, &out)
}
