package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/workerproto"
)

// Tokens manages API tokens; *token.Service implements it.
type Tokens interface {
	// CreateBound makes a token and returns it with its secret (shown
	// once). queues and nodePrefix bind a worker-scope token (nil and ""
	// for the defaults: the default queue and the token's name).
	CreateBound(ctx context.Context, name, scope string, queues []string, nodePrefix string) (*connecthub.Token, string, error)
	// CreateFor is CreateBound with the owner of a user-scope token.
	CreateFor(ctx context.Context, name, scope string, queues []string, nodePrefix, owner string) (*connecthub.Token, string, error)
	List(ctx context.Context) ([]*connecthub.Token, error)
	Revoke(ctx context.Context, idOrName string) error
	// Authenticate returns the live token whose secret is bearer, or nil.
	Authenticate(ctx context.Context, bearer string) (*connecthub.Token, error)
}

// tokenPrefixes are the prefixes of every secret Tokens.Create makes. A
// bearer without one cannot be an API token, so it costs no database
// lookup: random garbage in Authorization headers stays cheap.
var tokenPrefixes = []string{"chw_", "cha_", "chu_"}

// tokenRoutes registers the API token routes. Anyone signed in may make,
// list and revoke personal tokens of its own; the handlers hold every
// other token (admin and worker scope, or another user's) to the admin
// role, because which one a request touches is in its body or path.
func (a *API) tokenRoutes(api apiFunc) {
	api("POST /api/v1/tokens", connecthub.RoleViewer, a.tokenCreate)
	api("GET /api/v1/tokens", connecthub.RoleViewer, a.tokenList)
	api("DELETE /api/v1/tokens/{id}", connecthub.RoleViewer, a.tokenRevoke)
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// bearerPrincipal returns who the request's bearer token acts for: the
// admin token and admin-scope tokens are admins, a personal token its
// owner with the owner's role now, a worker-scope token a worker (the
// request returned carries it, so that the worker protocol holds it to
// its binding). nil without an error means there is no valid bearer token
// (a session cookie may still authorise the request); a personal token of
// a disabled user is no valid token.
func (a *API) bearerPrincipal(r *http.Request) (*connecthub.Principal, *http.Request, error) {
	if a.authorized(r) {
		return &connecthub.Principal{Kind: connecthub.PrincipalAdminToken, Role: connecthub.RoleAdmin, BreakGlass: true}, r, nil
	}
	t, err := a.apiToken(r)
	if err != nil || t == nil {
		return nil, r, err
	}
	p, err := a.svc.TokenPrincipal(r.Context(), t)
	switch {
	case connecthub.IsKind(err, connecthub.KindUnauthorized):
		return nil, r, nil
	case err != nil:
		return nil, r, err
	}
	if p.Kind == connecthub.PrincipalWorker {
		r = r.WithContext(workerproto.WithWorkerToken(r.Context(), t))
	}
	return p, r, nil
}

// apiToken authenticates an API token (not the admin token) and returns
// it, nil when the bearer is not a live API token. An error means the
// tokens could not be checked (the database is down).
func (a *API) apiToken(r *http.Request) (*connecthub.Token, error) {
	if a.cfg.Tokens == nil {
		return nil, nil
	}
	tok, ok := bearer(r)
	if !ok || !hasAnyPrefix(tok, tokenPrefixes) {
		return nil, nil
	}
	t, err := a.cfg.Tokens.Authenticate(r.Context(), tok)
	if err != nil {
		return nil, &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "unavailable",
			Message: "cannot check the API token now (database unavailable); try again", Err: err}
	}
	return t, nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// errWorkerScope answers a worker-scope token outside the worker protocol.
var errWorkerScope = &connecthub.Error{Kind: connecthub.KindForbidden, Code: "forbidden_scope",
	Message: "this token has the worker scope: it may call only the worker protocol (/api/v1/worker/...)"}

func (a *API) tokensEnabled() error {
	if a.cfg.Tokens == nil {
		return &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "tokens_disabled", Message: "API tokens are not enabled on this server"}
	}
	return nil
}

// visibleTokens is what p may see of the tokens: an admin every token,
// anyone else its own personal tokens.
func visibleTokens(p *connecthub.Principal, all []*connecthub.Token) []*connecthub.Token {
	out := []*connecthub.Token{}
	for _, t := range all {
		if p.Allows(connecthub.RoleAdmin) || (t.Scope == connecthub.ScopeUser && t.Owner == p.User && p.User != "" && !p.BreakGlass) {
			out = append(out, t)
		}
	}
	return out
}

// ownsToken reports whether idOrName names one of mine, matching ids
// first like the store's revoke does.
func ownsToken(mine []*connecthub.Token, idOrName string) bool {
	for _, t := range mine {
		if t.ID == idOrName {
			return true
		}
	}
	for _, t := range mine {
		if t.Name == idOrName {
			return true
		}
	}
	return false
}

// createdToken is a new token with its secret: the only answer that ever
// carries one.
type createdToken struct {
	*connecthub.Token
	Secret string `json:"token"`
}

func (a *API) tokenCreate(w http.ResponseWriter, r *http.Request) error {
	if err := a.tokensEnabled(); err != nil {
		return err
	}
	var in struct {
		Name       string   `json:"name"`
		Scope      string   `json:"scope"`
		Queues     []string `json:"queues"`
		NodePrefix string   `json:"node_prefix"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	p := connecthub.PrincipalFrom(r.Context())
	owner := ""
	if in.Scope == connecthub.ScopeUser {
		if p.User == "" || p.BreakGlass {
			return &connecthub.Error{Kind: connecthub.KindForbidden, Code: "no_user", Field: "scope",
				Message: "a personal (user-scope) token belongs to a user: sign in as one (the admin token and the break-glass login have none)"}
		}
		owner = p.User
	} else if !p.Allows(connecthub.RoleAdmin) {
		return connecthub.ErrRoleNeeded(connecthub.RoleAdmin, "creating an admin- or worker-scope token")
	}
	t, secret, err := a.cfg.Tokens.CreateFor(a.svc.Audited(r.Context(), "token.create", "token:"+strings.TrimSpace(in.Name)), in.Name, in.Scope, in.Queues, in.NodePrefix, owner)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, createdToken{Token: t, Secret: secret})
	return nil
}

func (a *API) tokenList(w http.ResponseWriter, r *http.Request) error {
	if err := a.tokensEnabled(); err != nil {
		return err
	}
	list, err := a.cfg.Tokens.List(r.Context())
	if err != nil {
		return err
	}
	list = visibleTokens(connecthub.PrincipalFrom(r.Context()), list)
	writeJSON(w, http.StatusOK, map[string]any{"tokens": list})
	return nil
}

func (a *API) tokenRevoke(w http.ResponseWriter, r *http.Request) error {
	if err := a.tokensEnabled(); err != nil {
		return err
	}
	p := connecthub.PrincipalFrom(r.Context())
	if !p.Allows(connecthub.RoleAdmin) {
		// A non-admin may revoke only its own personal tokens; another
		// token is as good as unknown to it.
		list, err := a.cfg.Tokens.List(r.Context())
		if err != nil {
			return err
		}
		if !ownsToken(visibleTokens(p, list), r.PathValue("id")) {
			return connecthub.NotFound("token", r.PathValue("id"))
		}
	}
	if err := a.cfg.Tokens.Revoke(a.svc.Audited(r.Context(), "token.revoke", "token:"+r.PathValue("id")), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// decodeJSON reads a JSON object body into v. Every way a body can be bad
// is a 400 naming the problem (and the field, for a value of the wrong
// type), never a 500: the worker protocol is spoken by programs in any
// language, and their authors need to see what to fix.
func decodeJSON(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	return unmarshalBody(body, v, false)
}

// unmarshalBody is decodeJSON's decoding of a body already read; strict
// refuses unknown fields, naming them.
func unmarshalBody(body []byte, v any, strict bool) error {
	if len(strings.TrimSpace(string(body))) == 0 {
		return &connecthub.Error{Kind: connecthub.KindInvalid, Code: "invalid_body", Message: "request body is required: a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("request body holds more than one JSON value")
	}
	if err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return connecthub.FieldError(te.Field, "", "%s must be %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		case errors.As(err, &te):
			return &connecthub.Error{Kind: connecthub.KindInvalid, Code: "invalid_body", Message: "request body must be a JSON object, not " + te.Value}
		case errors.As(err, &se):
			return &connecthub.Error{Kind: connecthub.KindInvalid, Code: "invalid_body", Message: "request body is not valid JSON: " + se.Error()}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return connecthub.FieldError(field, "unknown_field", "unknown field %q", field)
		default:
			return &connecthub.Error{Kind: connecthub.KindInvalid, Code: "invalid_body", Message: "request body: " + err.Error()}
		}
	}
	return nil
}

// jsonKind names a Go kind the way a JSON author thinks of it.
func jsonKind(kind string) string {
	switch kind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	default:
		return "a valid value"
	}
}
