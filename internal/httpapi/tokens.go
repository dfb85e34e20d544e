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
	List(ctx context.Context) ([]*connecthub.Token, error)
	Revoke(ctx context.Context, idOrName string) error
	// Authenticate returns the live token whose secret is bearer, or nil.
	Authenticate(ctx context.Context, bearer string) (*connecthub.Token, error)
}

// tokenPrefixes are the prefixes of every secret Tokens.Create makes. A
// bearer without one cannot be an API token, so it costs no database
// lookup: random garbage in Authorization headers stays cheap.
var tokenPrefixes = []string{"chw_", "cha_"}

// tokenRoutes registers the API token routes (admin scope only, like
// every route outside /api/v1/worker).
func (a *API) tokenRoutes(api func(string, func(http.ResponseWriter, *http.Request) error)) {
	api("POST /api/v1/tokens", a.tokenCreate)
	api("GET /api/v1/tokens", a.tokenList)
	api("DELETE /api/v1/tokens/{id}", a.tokenRevoke)
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

// bearerAuthorized reports whether the request's bearer token authorises
// it: the admin token everywhere, an admin-scope API token everywhere, a
// worker-scope API token only on the worker protocol (elsewhere it is a
// 403, not a 401: the token is good, its scope is not). false without an
// error means there is no valid bearer token (a session cookie may still
// authorise the request). The request returned carries a worker-scope
// token in its context, so that the worker protocol holds the token to its
// binding (node names and queues).
func (a *API) bearerAuthorized(r *http.Request) (*http.Request, bool, error) {
	if a.authorized(r) {
		return r, true, nil
	}
	t, err := a.apiToken(r)
	switch {
	case err != nil:
		return r, false, err
	case t == nil:
		return r, false, nil
	case t.Scope == connecthub.ScopeAdmin:
		return r, true, nil
	case t.Scope == connecthub.ScopeWorker && workerScopeAllowed(r.URL.Path):
		return r.WithContext(workerproto.WithWorkerToken(r.Context(), t)), true, nil
	case t.Scope == connecthub.ScopeWorker:
		return r, false, errWorkerScope
	}
	return r, false, nil
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

// workerScopeAllowed reports whether a worker-scope token may call the
// path: the worker protocol, and the Prometheus service discovery, which
// shows only what workers already announce about themselves. That lets a
// Prometheus server use a worker token instead of the admin token, which
// could change every job.
func workerScopeAllowed(path string) bool {
	return strings.HasPrefix(path, "/api/v1/worker/") || path == "/api/v1/sd/prometheus"
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
	t, secret, err := a.cfg.Tokens.CreateBound(r.Context(), in.Name, in.Scope, in.Queues, in.NodePrefix)
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
	if list == nil {
		list = []*connecthub.Token{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": list})
	return nil
}

func (a *API) tokenRevoke(w http.ResponseWriter, r *http.Request) error {
	if err := a.tokensEnabled(); err != nil {
		return err
	}
	if err := a.cfg.Tokens.Revoke(r.Context(), r.PathValue("id")); err != nil {
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
