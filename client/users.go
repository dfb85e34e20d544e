package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/connecthub/connecthub"
)

// UserRequest is a user to create: POST /api/v1/users (admin only).
type UserRequest struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name,omitempty"`
	Role        string `json:"role,omitempty"`
	Password    string `json:"password"`
}

// UserPatch changes some of a user's fields; nil leaves one as it is.
type UserPatch struct {
	DisplayName *string `json:"display_name,omitempty"`
	Role        *string `json:"role,omitempty"`
	Password    *string `json:"password,omitempty"`
	Disabled    *bool   `json:"disabled,omitempty"`
	// AllowOIDCLink lets (true) or no longer lets (false) the user's next
	// single sign-on link to it.
	AllowOIDCLink *bool `json:"allow_oidc_link,omitempty"`
}

// CreateUser adds a user.
func (c *Client) CreateUser(ctx context.Context, req UserRequest) (*connecthub.User, error) {
	var out connecthub.User
	return &out, c.do(ctx, http.MethodPost, "/api/v1/users", nil, req, &out)
}

// ListUsers lists every user by username, disabled ones included.
func (c *Client) ListUsers(ctx context.Context) ([]connecthub.User, error) {
	var out struct {
		Users []connecthub.User `json:"users"`
	}
	return out.Users, c.do(ctx, http.MethodGet, "/api/v1/users", nil, nil, &out)
}

// UpdateUser applies a patch to a user. Disabling one revokes its
// sessions and personal tokens at once.
func (c *Client) UpdateUser(ctx context.Context, username string, p UserPatch) (*connecthub.User, error) {
	var out connecthub.User
	return &out, c.do(ctx, http.MethodPatch, "/api/v1/users/"+url.PathEscape(username), nil, p, &out)
}

// Me returns who the client's credential acts for, with its role now.
func (c *Client) Me(ctx context.Context) (*connecthub.Principal, error) {
	var out connecthub.Principal
	return &out, c.do(ctx, http.MethodGet, "/api/v1/me", nil, nil, &out)
}
