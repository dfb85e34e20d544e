// Package didi is a client of the Didi enterprise open platform (滴滴企业版,
// "river" API): authorization with a cached access token, signed requests,
// and the legal-entity and member calls the OA sync needs.
//
// # Protocol
//
// Authorization is POST {base}/river/Auth/authorize with the parameters
// client_id, client_secret, grant_type ("client_credentials"), phone (the
// company administrator's phone number), timestamp (Unix seconds) and sign.
// The answer carries access_token and expires_in (seconds), either at the top
// level or inside the envelope's "data". The client caches the token until
// expires_in minus [Config.TokenSkew] (60 s by default; half the lifetime
// when the lifetime is shorter than twice the skew) and shares one
// authorization among concurrent callers.
//
// Every other call sends client_id, access_token, company_id, timestamp and
// its own parameters, plus sign, the [Sign] of all of them with the sign key.
// A GET sends them in the query string; a POST sends them as a JSON object
// whose values are exactly the strings that were signed (a structured
// parameter such as Member/edit's "data" is itself a JSON string). If a call
// is answered HTTP 401 the client drops the token, authorizes again and
// retries the call once (with a new timestamp and signature); a second 401
// is returned as an *AuthError.
//
// Answers use the envelope {"errno": 0, "errmsg": "SUCCESS", "data": …}; a
// non-zero errno is returned as an *APIError carrying errno and errmsg.
//
// # Use
//
// A [Client] is safe for concurrent use. Every method takes a context first
// and bounds each HTTP attempt by [Config.Timeout]. Errors name the call
// ("didi: GET /river/Member/detail") and the HTTP status or errno, and never
// contain the client secret, the sign key, the phone number or a token (a
// GET's URL, which holds the token, is never quoted).
package didi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/connecthub/connecthub/integrations/internal/httpx"
	"github.com/connecthub/connecthub/integrations/internal/tokencache"
	"github.com/connecthub/connecthub/internal/tracing"
)

// Paths of the endpoints the client knows.
const (
	AuthorizePath      = "/river/Auth/authorize"
	LegalEntityGetPath = "/river/LegalEntity/get"
	MemberDetailPath   = "/river/Member/detail"
	MemberEditPath     = "/river/Member/edit"
)

// Defaults of Config.
const (
	// DefaultBaseURL is the production API host.
	DefaultBaseURL = "https://api.es.xiaojukeji.com"
	// DefaultGrantType is the grant of a server-to-server integration.
	DefaultGrantType = "client_credentials"
	// DefaultTimeout bounds one HTTP attempt.
	DefaultTimeout = 30 * time.Second
	// DefaultTokenSkew is how long before its stated expiry a token is
	// replaced, so that a request never leaves with a token that expires in
	// flight.
	DefaultTokenSkew = 60 * time.Second
	// DefaultMaxBodyBytes bounds a response body held in memory.
	DefaultMaxBodyBytes = 8 << 20
)

// snippetBytes is how much of an unexpected body an error quotes.
const snippetBytes = 300

// Config configures a Client.
type Config struct {
	// BaseURL is the API's scheme and host; empty means DefaultBaseURL.
	BaseURL string
	// ClientID, ClientSecret and SignKey are the application's credentials
	// from the Didi enterprise console. Required.
	ClientID     string
	ClientSecret string
	SignKey      string
	// Phone is the phone number of the company administrator the token is
	// issued for. Required.
	Phone string
	// CompanyID is the Didi company id sent with every call. Required.
	CompanyID string
	// GrantType is the authorization grant; empty means DefaultGrantType.
	GrantType string
	// HTTPClient makes the requests; nil means a new client with the default
	// transport.
	HTTPClient *http.Client
	// Timeout bounds each HTTP attempt; zero means DefaultTimeout. It must
	// not be negative.
	Timeout time.Duration
	// TokenSkew is subtracted from a token's lifetime; zero means
	// DefaultTokenSkew. It must not be negative.
	TokenSkew time.Duration
	// Now is the clock for timestamps and token expiry; nil means time.Now.
	Now func() time.Time
	// MaxBodyBytes bounds a response body; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Client calls the Didi enterprise API. Create it with New.
type Client struct {
	base      string
	clientID  string
	secret    string
	signKey   string
	phone     string
	companyID string
	grantType string
	http      *http.Client
	timeout   time.Duration
	skew      time.Duration
	now       func() time.Time
	maxBody   int64
	tokens    *tokencache.Cache
}

// New checks cfg and returns a client. It does not contact the server.
func New(cfg Config) (*Client, error) {
	base := strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/")
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("didi: base URL %q must be an http:// or https:// URL with a host and no query", cfg.BaseURL)
	}
	for _, req := range []struct{ name, value string }{
		{"client id", cfg.ClientID},
		{"client secret", cfg.ClientSecret},
		{"sign key", cfg.SignKey},
		{"phone", cfg.Phone},
		{"company id", cfg.CompanyID},
	} {
		if strings.TrimSpace(req.value) == "" {
			return nil, fmt.Errorf("didi: the %s is required", req.name)
		}
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("didi: the timeout must not be negative, got %v", cfg.Timeout)
	}
	if cfg.TokenSkew < 0 {
		return nil, fmt.Errorf("didi: the token skew must not be negative, got %v", cfg.TokenSkew)
	}
	if cfg.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("didi: the body limit must not be negative, got %d", cfg.MaxBodyBytes)
	}
	c := &Client{
		base:      base,
		clientID:  cfg.ClientID,
		secret:    cfg.ClientSecret,
		signKey:   cfg.SignKey,
		phone:     cfg.Phone,
		companyID: cfg.CompanyID,
		grantType: cfg.GrantType,
		http:      cfg.HTTPClient,
		timeout:   cfg.Timeout,
		skew:      cfg.TokenSkew,
		now:       cfg.Now,
		maxBody:   cfg.MaxBodyBytes,
	}
	if c.grantType == "" {
		c.grantType = DefaultGrantType
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.skew == 0 {
		c.skew = DefaultTokenSkew
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.maxBody == 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	c.tokens = tokencache.New(c.authorize, c.now, c.timeout)
	return c, nil
}

// Token returns a valid access token, authorizing first if the cached one
// is missing or about to expire.
func (c *Client) Token(ctx context.Context) (string, error) {
	return c.tokens.Get(ctx)
}

// Call makes a signed call of method (GET or POST) to path with params and
// decodes the envelope's data into out (unless out is nil). The client adds
// client_id, access_token, company_id (unless params sets it), timestamp and
// sign. A 401 is handled as the package documentation describes.
func (c *Client) Call(ctx context.Context, method, path string, params map[string]string, out any) error {
	op := "didi: " + method + " " + path
	if method != http.MethodGet && method != http.MethodPost {
		return fmt.Errorf("%s: only GET and POST are supported", op)
	}
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("%s: the path must start with /", op)
	}
	tok, err := c.tokens.Get(ctx)
	if err != nil {
		return tokenError(ctx, op, err)
	}
	status, body, err := c.send(ctx, op, method, path, c.signed(params, tok))
	if err != nil {
		return err
	}
	if status == http.StatusUnauthorized {
		fresh, err := c.tokens.Refresh(ctx, tok)
		if err != nil {
			return tokenError(ctx, op, err)
		}
		status, body, err = c.send(ctx, op, method, path, c.signed(params, fresh))
		if err != nil {
			return err
		}
		if status == http.StatusUnauthorized {
			c.tokens.Invalidate(fresh)
			return &AuthError{Err: &HTTPError{
				Op:         op,
				StatusCode: status,
				Snippet:    c.snippet(body, tok, fresh),
				Detail:     "rejected again after a fresh authorization",
			}}
		}
		tok = fresh
	}
	return c.decode(op, status, body, out, tok)
}

// tokenError describes a failure to get a token for call op: an
// authorization error names the authorize call already; the caller's
// context ending while it waited is named after op.
func tokenError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: waiting for an access token: %w", op, err)
	}
	return err
}

// signed returns the parameters of a call: params plus the common ones and
// the signature. params is not changed.
func (c *Client) signed(params map[string]string, tok string) map[string]string {
	p := make(map[string]string, len(params)+5)
	for k, v := range params {
		p[k] = v
	}
	p["client_id"] = c.clientID
	p["access_token"] = tok
	if _, ok := p["company_id"]; !ok {
		p["company_id"] = c.companyID
	}
	p["timestamp"] = strconv.FormatInt(c.now().Unix(), 10)
	delete(p, "sign")
	p["sign"] = Sign(p, c.signKey)
	return p
}

// send makes one attempt and returns the status and whole body.
func (c *Client) send(ctx context.Context, op, method, path string, params map[string]string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	target := c.base + path
	var body io.Reader
	if method == http.MethodGet {
		q := make(url.Values, len(params))
		for k, v := range params {
			q.Set(k, v)
		}
		target += "?" + q.Encode()
	} else {
		b, err := json.Marshal(params)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: encoding the parameters: %w", op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", op, httpx.TransportError(err))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := tracing.Do(c.http, req, op) // a child span in a traced run
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", op, httpx.TransportError(err))
	}
	defer resp.Body.Close()
	b, err := httpx.ReadBody(resp.Body, c.maxBody)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: HTTP %d: %w", op, resp.StatusCode, httpx.TransportError(err))
	}
	return resp.StatusCode, b, nil
}

// envelope is the frame of every business answer.
type envelope struct {
	Errno  json.RawMessage `json:"errno"`
	Errmsg string          `json:"errmsg"`
	Data   json.RawMessage `json:"data"`
}

// decode checks an answer and decodes its data into out.
func (c *Client) decode(op string, status int, body []byte, out any, tok string) error {
	if status < 200 || status > 299 {
		return &HTTPError{Op: op, StatusCode: status, Snippet: c.snippet(body, tok)}
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return &HTTPError{Op: op, StatusCode: status, Snippet: c.snippet(body, tok), Detail: "the answer is not a JSON envelope"}
	}
	errno, ok := parseInt(env.Errno)
	if !ok {
		return &HTTPError{Op: op, StatusCode: status, Snippet: c.snippet(body, tok), Detail: `the answer has no numeric "errno"`}
	}
	if errno != 0 {
		return &APIError{Op: op, Errno: errno, Errmsg: httpx.Redact(env.Errmsg, c.secrets(tok)...)}
	}
	if out == nil || len(env.Data) == 0 || string(env.Data) == "null" {
		return nil
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return fmt.Errorf("%s: decoding the answer's data: %w", op, err)
	}
	return nil
}

// authorize obtains a new access token; it is the token cache's fetch
// function. Its errors are *AuthError.
func (c *Client) authorize(ctx context.Context) (tokencache.Token, error) {
	op := "didi: POST " + AuthorizePath
	start := c.now()
	params := map[string]string{
		"client_id":     c.clientID,
		"client_secret": c.secret,
		"grant_type":    c.grantType,
		"phone":         c.phone,
		"timestamp":     strconv.FormatInt(start.Unix(), 10),
	}
	params["sign"] = Sign(params, c.signKey)
	status, body, err := c.send(ctx, op, http.MethodPost, AuthorizePath, params)
	if err != nil {
		return tokencache.Token{}, &AuthError{Err: err}
	}
	if status < 200 || status > 299 {
		return tokencache.Token{}, &AuthError{Err: &HTTPError{Op: op, StatusCode: status, Snippet: c.snippet(body)}}
	}
	tok, lifetime, err := parseAuthorize(body)
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			apiErr.Op = op
			apiErr.Errmsg = httpx.Redact(apiErr.Errmsg, c.secrets()...)
			return tokencache.Token{}, &AuthError{Err: apiErr}
		}
		return tokencache.Token{}, &AuthError{Err: &HTTPError{Op: op, StatusCode: status, Detail: err.Error()}}
	}
	return tokencache.Token{Value: tok, Expiry: c.expiry(start, lifetime)}, nil
}

// expiry returns when a token obtained at start with the stated lifetime
// stops being used.
func (c *Client) expiry(start time.Time, lifetime time.Duration) time.Time {
	switch {
	case lifetime <= 0:
		return time.Time{} // no stated lifetime: keep it until a 401
	case lifetime > 2*c.skew:
		return start.Add(lifetime - c.skew)
	default:
		return start.Add(lifetime / 2)
	}
}

// parseAuthorize reads the token and its lifetime from an authorize answer,
// flat or inside the envelope's data.
func parseAuthorize(body []byte) (string, time.Duration, error) {
	type grant struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	var ans struct {
		grant
		Errno  json.RawMessage `json:"errno"`
		Errmsg string          `json:"errmsg"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return "", 0, errors.New("the answer is not JSON")
	}
	if errno, ok := parseInt(ans.Errno); ok && errno != 0 {
		return "", 0, &APIError{Errno: errno, Errmsg: ans.Errmsg}
	}
	g := ans.grant
	if g.AccessToken == "" && len(ans.Data) > 0 && ans.Data[0] == '{' {
		if err := json.Unmarshal(ans.Data, &g); err != nil {
			return "", 0, errors.New(`the answer's "data" is not a grant`)
		}
	}
	if strings.TrimSpace(g.AccessToken) == "" {
		return "", 0, errors.New("the answer has no access_token")
	}
	var lifetime time.Duration
	if len(g.ExpiresIn) > 0 && string(g.ExpiresIn) != "null" {
		secs, ok := parseInt(g.ExpiresIn)
		if !ok || secs < 0 {
			return "", 0, errors.New("the answer's expires_in is not a number of seconds")
		}
		lifetime = time.Duration(secs) * time.Second
	}
	return strings.TrimSpace(g.AccessToken), lifetime, nil
}

// parseInt reads a JSON integer, also when it is sent as a string ("0").
func parseInt(raw json.RawMessage) (int64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0, false
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		raw = []byte(strings.TrimSpace(s))
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	return n, err == nil
}

// secrets are the values an error text must never show.
func (c *Client) secrets(tokens ...string) []string {
	return append([]string{c.secret, c.signKey, c.phone}, tokens...)
}

// snippet quotes the start of a body with every secret masked.
func (c *Client) snippet(body []byte, tokens ...string) string {
	return httpx.Snippet(body, snippetBytes, c.secrets(tokens...)...)
}
