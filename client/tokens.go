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
// connecthub.ScopeAdmin). A worker token made here is bound to node names
// starting with name and to the default queue; see CreateTokenWith.
func (c *Client) CreateToken(ctx context.Context, name, scope string) (*CreatedToken, error) {
	return c.CreateTokenWith(ctx, TokenRequest{Name: name, Scope: scope})
}

// TokenRequest describes a token to create.
type TokenRequest struct {
	Name  string `json:"name"`
	Scope string `json:"scope"`
	// Queues are the queues a worker token's nodes may serve and claim
	// from; empty means the default queue.
	Queues []string `json:"queues,omitempty"`
	// NodePrefix is the prefix every node name of a worker token must
	// start with; empty means the token's name.
	NodePrefix string `json:"node_prefix,omitempty"`
}

// CreateTokenWith creates an API token as req describes, a worker token
// bound to its queues and node-name prefix.
func (c *Client) CreateTokenWith(ctx context.Context, req TokenRequest) (*CreatedToken, error) {
	var out CreatedToken
	return &out, c.do(ctx, http.MethodPost, "/api/v1/tokens", nil, req, &out)
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
