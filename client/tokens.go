package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/connecthub/connecthub"
)

// CreatedToken is a new API token with its secret, which the server shows
// only this once.
type CreatedToken struct {
	connecthub.Token
	Secret string `json:"token"`
}

// CreateToken creates an API token with a scope (connecthub.ScopeWorker or
// connecthub.ScopeAdmin).
func (c *Client) CreateToken(ctx context.Context, name, scope string) (*CreatedToken, error) {
	var out CreatedToken
	return &out, c.do(ctx, http.MethodPost, "/api/v1/tokens", nil, map[string]string{"name": name, "scope": scope}, &out)
}

// ListTokens lists API tokens, newest first, without their secrets.
func (c *Client) ListTokens(ctx context.Context) ([]connecthub.Token, error) {
	var out struct {
		Tokens []connecthub.Token `json:"tokens"`
	}
	return out.Tokens, c.do(ctx, http.MethodGet, "/api/v1/tokens", nil, nil, &out)
}

// RevokeToken revokes a token by id or name; revoking twice is not an
// error.
func (c *Client) RevokeToken(ctx context.Context, idOrName string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(idOrName), nil, nil, nil)
}
