// Package seeyon is a client of the Seeyon (致远) OA REST API: token login,
// authenticated calls with one transparent re-login, and the CAP4 form
// export.
//
// # Protocol
//
// Login is POST {base}/seeyon/rest/token with the JSON body
//
//	{"userName": "<rest user>", "password": "<rest password>", "loginName": "<optional OA login>"}
//
// where the REST user is the one configured under "REST 用户管理" in the OA
// back office, and loginName (optional) binds the token to an OA user so that
// calls act as that user. The answer is normally a JSON object whose "id" is
// the token, e.g. {"id": "6e1d…", "bindingUser": {…}}. Some Seeyon versions
// answer with the token as plain text (or as a JSON string) instead; both are
// accepted. A token has no stated lifetime: the server drops it after a
// period of inactivity, so the client keeps it until the server rejects it.
//
// Every other request carries the header "token: <id>". The server rejects
// an unknown or expired token either with HTTP 401 or with an HTTP 200 whose
// body says "Invalid token" (depending on the version). On either answer the
// client logs in again once and retries the request once; if the retry is
// rejected too, the call fails with an error that wraps [ErrTokenRejected]
// (there is no loop). Only bodies of at most 4 KiB are searched for
// "Invalid token": a rejection is a short error message, whereas a large
// form export may legitimately contain those words in user data.
//
// The CAP4 form export is POST {base}/seeyon/rest/cap4/form/soap/export
// with a JSON body such as
//
//	{"templateCode": "HR_LEGAL_001", "rightId": "1234…",
//	 "beginDateTime": "2020-01-01", "endDateTime": "2099-12-31",
//	 "page": 1, "pageSize": 500}
//
// of which templateCode (the form template's number) is required; rightId
// (the CAP4 operation permission whose fields are exported), the date range
// and paging are optional, and [ExportRequest.Extra] adds any key a
// particular OA version wants. [Client.ExportForm] returns the raw answer;
// [ParseFormExport] reads the JSON shape documented there.
//
// # Use
//
// A [Client] is safe for concurrent use; its callers share one token, and a
// burst of rejected requests causes one login, not one per request. Every
// method takes a context first and bounds each HTTP attempt by
// [Config.Timeout]. Errors name the call that failed ("seeyon: POST
// /seeyon/rest/token") and the HTTP status, and never contain the password
// or a token.
package seeyon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/connecthub/connecthub/integrations/internal/httpx"
	"github.com/connecthub/connecthub/integrations/internal/tokencache"
	"github.com/connecthub/connecthub/internal/tracing"
)

// Paths of the endpoints the client knows.
const (
	TokenPath      = "/seeyon/rest/token"
	FormExportPath = "/seeyon/rest/cap4/form/soap/export"
)

// Defaults of Config.
const (
	// DefaultTimeout bounds one HTTP attempt: long enough for a form export
	// of some thousands of rows, short enough that a hung OA does not hold
	// a worker until the run's own timeout.
	DefaultTimeout = 60 * time.Second
	// DefaultMaxBodyBytes bounds a response body held in memory.
	DefaultMaxBodyBytes = 64 << 20
)

// invalidTokenScanLimit is the largest body searched for "Invalid token".
const invalidTokenScanLimit = 4 << 10

// snippetBytes is how much of an unexpected body an error quotes.
const snippetBytes = 300

// Config configures a Client.
type Config struct {
	// BaseURL is the OA's scheme, host and port, e.g.
	// "https://oa.example.com:8080", optionally with a path prefix when the
	// OA sits behind a reverse proxy under one. The "/seeyon/rest/…" paths
	// are appended to it; a trailing "/seeyon" is dropped, as operators
	// often paste the OA's home page address. Required.
	BaseURL string
	// RESTUser and RESTPassword are the credentials of a REST user of the
	// OA. Required.
	RESTUser     string
	RESTPassword string
	// LoginName optionally binds the token to an OA user (the loginName of
	// the token request).
	LoginName string
	// HTTPClient makes the requests; nil means a new client with the default
	// transport. Set it for a proxy, custom TLS roots, or in tests.
	HTTPClient *http.Client
	// Timeout bounds each HTTP attempt (a login, a call, its retry).
	// Zero means DefaultTimeout; it must not be negative.
	Timeout time.Duration
	// MaxBodyBytes bounds a response body; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Client calls one Seeyon OA. Create it with New.
type Client struct {
	base     string // BaseURL without a trailing slash or "/seeyon"
	user     string
	password string
	login    string
	http     *http.Client
	timeout  time.Duration
	maxBody  int64
	tokens   *tokencache.Cache
}

// New checks cfg and returns a client. It does not contact the server.
func New(cfg Config) (*Client, error) {
	base, err := normalizeBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.RESTUser == "" {
		return nil, errors.New("seeyon: the REST user is required")
	}
	if cfg.RESTPassword == "" {
		return nil, errors.New("seeyon: the REST password is required")
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("seeyon: the timeout must not be negative, got %v", cfg.Timeout)
	}
	if cfg.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("seeyon: the body limit must not be negative, got %d", cfg.MaxBodyBytes)
	}
	c := &Client{
		base:     base,
		user:     cfg.RESTUser,
		password: cfg.RESTPassword,
		login:    cfg.LoginName,
		http:     cfg.HTTPClient,
		timeout:  cfg.Timeout,
		maxBody:  cfg.MaxBodyBytes,
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxBody == 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	c.tokens = tokencache.New(c.fetchToken, nil, c.timeout)
	return c, nil
}

// normalizeBaseURL checks a base URL and returns it without a trailing slash
// or "/seeyon".
func normalizeBaseURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", errors.New("seeyon: the base URL is required")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("seeyon: base URL %q must be an http:// or https:// URL with a host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("seeyon: base URL %q must not have a query or fragment", raw)
	}
	s = strings.TrimRight(s, "/")
	s = strings.TrimSuffix(s, "/seeyon")
	return s, nil
}

// Response is a successful answer.
type Response struct {
	// StatusCode is the HTTP status (2xx).
	StatusCode int
	// ContentType is the Content-Type header as sent.
	ContentType string
	// ContentLength is the number of body bytes received (the
	// Content-Length header may be absent with chunked encoding).
	ContentLength int64
	// Body is the whole body.
	Body []byte
}

// Token returns the current token, logging in first if there is none.
func (c *Client) Token(ctx context.Context) (string, error) {
	return c.tokens.Get(ctx)
}

// Login logs in now, whatever the cache holds, and returns the new token
// (which later calls use). It is how a job checks the credentials.
func (c *Client) Login(ctx context.Context) (string, error) {
	return c.tokens.Refresh(ctx, "")
}

// Do makes an authenticated request to path (e.g. "/seeyon/rest/orgMember")
// and returns the answer if its status is 2xx. body is sent as is when it
// is a []byte or json.RawMessage, else encoded as JSON; nil sends no body.
// A rejected token is replaced and the request retried once, as the package
// documentation describes.
func (c *Client) Do(ctx context.Context, method, path string, body any) (*Response, error) {
	op := "seeyon: " + method + " " + path
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("%s: the path must start with /", op)
	}
	payload, err := encodeBody(body)
	if err != nil {
		return nil, fmt.Errorf("%s: encoding the request body: %w", op, err)
	}
	tok, err := c.tokens.Get(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: waiting for a token: %w", op, err)
		}
		return nil, err // a login error, which names the login call
	}
	resp, err := c.send(ctx, op, method, path, payload, tok)
	if err != nil {
		return nil, err
	}
	if !tokenRejected(resp) {
		return c.check(op, resp, tok)
	}
	fresh, err := c.tokens.Refresh(ctx, tok)
	if err != nil {
		return nil, fmt.Errorf("%s: the token was rejected; logging in again: %w", op, err)
	}
	resp, err = c.send(ctx, op, method, path, payload, fresh)
	if err != nil {
		return nil, err
	}
	if tokenRejected(resp) {
		// Forget it, so the next call starts with a fresh login.
		c.tokens.Invalidate(fresh)
		return nil, &HTTPError{
			Op:         op,
			StatusCode: resp.StatusCode,
			Snippet:    httpx.Snippet(resp.Body, snippetBytes, c.password, tok, fresh),
			Err:        ErrTokenRejected,
		}
	}
	return c.check(op, resp, fresh)
}

// ExportRequest is the body of a CAP4 form export.
type ExportRequest struct {
	// TemplateCode is the form template's number (模板编号). Required.
	TemplateCode string
	// RightID is the CAP4 operation permission (操作权限 ID) whose fields are
	// exported; some versions require it.
	RightID string
	// BeginDateTime and EndDateTime bound the records' dates, in the format
	// the OA expects ("2006-01-02" or "2006-01-02 15:04:05").
	BeginDateTime string
	EndDateTime   string
	// Page and PageSize page the records; zero leaves them out.
	Page     int
	PageSize int
	// Extra holds further keys for the body; the fields above win over a
	// key of the same name.
	Extra map[string]any
}

// body returns the request's JSON object.
func (r ExportRequest) body() map[string]any {
	b := make(map[string]any, len(r.Extra)+6)
	for k, v := range r.Extra {
		b[k] = v
	}
	b["templateCode"] = r.TemplateCode
	set := func(k, v string) {
		if v != "" {
			b[k] = v
		}
	}
	set("rightId", r.RightID)
	set("beginDateTime", r.BeginDateTime)
	set("endDateTime", r.EndDateTime)
	if r.Page > 0 {
		b["page"] = r.Page
	}
	if r.PageSize > 0 {
		b["pageSize"] = r.PageSize
	}
	return b
}

// ExportForm exports a CAP4 form's definition and data and returns the raw
// answer. An answer that reports an error inside a 2xx response (a
// non-zero "code") is returned as is; see ResultError.
func (c *Client) ExportForm(ctx context.Context, req ExportRequest) (*Response, error) {
	if strings.TrimSpace(req.TemplateCode) == "" {
		return nil, errors.New("seeyon: form export: the template code is required")
	}
	if req.Page < 0 || req.PageSize < 0 {
		return nil, errors.New("seeyon: form export: page and page size must not be negative")
	}
	return c.Do(ctx, http.MethodPost, FormExportPath, req.body())
}

// send makes one attempt with token tok and reads the whole answer,
// whatever its status.
func (c *Client) send(ctx context.Context, op, method, path string, payload []byte, tok string) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, httpx.TransportError(err))
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	req.Header.Set("Accept", "application/json")
	if tok != "" {
		req.Header.Set("token", tok)
	}
	resp, err := tracing.Do(c.http, req, op) // a child span in a traced run
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, httpx.TransportError(err))
	}
	defer resp.Body.Close()
	b, err := httpx.ReadBody(resp.Body, c.maxBody)
	if err != nil {
		return nil, fmt.Errorf("%s: HTTP %d: %w", op, resp.StatusCode, httpx.TransportError(err))
	}
	return &Response{
		StatusCode:    resp.StatusCode,
		ContentType:   resp.Header.Get("Content-Type"),
		ContentLength: int64(len(b)),
		Body:          b,
	}, nil
}

// check turns a non-2xx answer into an *HTTPError.
func (c *Client) check(op string, resp *Response, tok string) (*Response, error) {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &HTTPError{
			Op:         op,
			StatusCode: resp.StatusCode,
			Snippet:    httpx.Snippet(resp.Body, snippetBytes, c.password, tok),
		}
	}
	return resp, nil
}

// tokenRejected reports whether the server refused the request's token.
func tokenRejected(resp *Response) bool {
	if resp.StatusCode == http.StatusUnauthorized {
		return true
	}
	return len(resp.Body) <= invalidTokenScanLimit &&
		bytes.Contains(bytes.ToLower(resp.Body), []byte("invalid token"))
}

// fetchToken logs in; it is the token cache's fetch function.
func (c *Client) fetchToken(ctx context.Context) (tokencache.Token, error) {
	op := "seeyon: POST " + TokenPath
	payload, err := json.Marshal(struct {
		UserName  string `json:"userName"`
		Password  string `json:"password"`
		LoginName string `json:"loginName,omitempty"`
	}{c.user, c.password, c.login})
	if err != nil {
		return tokencache.Token{}, fmt.Errorf("%s: %w", op, err)
	}
	resp, err := c.send(ctx, op, http.MethodPost, TokenPath, payload, "")
	if err != nil {
		return tokencache.Token{}, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return tokencache.Token{}, &HTTPError{
			Op:         op,
			StatusCode: resp.StatusCode,
			Snippet:    httpx.Snippet(resp.Body, snippetBytes, c.password),
			Err:        ErrLogin,
		}
	}
	tok, err := parseToken(resp.Body)
	if err != nil {
		// The body is not quoted: it might hold a token after all.
		return tokencache.Token{}, fmt.Errorf("%s: HTTP %d: %w: %w", op, resp.StatusCode, ErrLogin, err)
	}
	return tokencache.Token{Value: tok}, nil
}

// maxPlainToken bounds a plain-text token: longer text is an error page.
const maxPlainToken = 256

// parseToken reads the token from a login answer: a JSON object's "id", a
// JSON string, or plain text.
func parseToken(body []byte) (string, error) {
	b := bytes.TrimSpace(body)
	// Some servers prefix JSON with a UTF-8 byte order mark.
	b = bytes.TrimPrefix(b, []byte("\ufeff"))
	if len(b) == 0 {
		return "", errors.New("the answer is empty")
	}
	switch b[0] {
	case '{':
		var v struct {
			ID json.RawMessage `json:"id"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return "", fmt.Errorf("the answer is not valid JSON: %w", err)
		}
		id := scalarString(v.ID)
		if id == "" {
			return "", errors.New(`the answer has no token "id" (check the REST user and password)`)
		}
		return id, nil
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return "", fmt.Errorf("the answer is not a valid JSON string: %w", err)
		}
		if s = strings.TrimSpace(s); s == "" || strings.ContainsAny(s, " \t\r\n") {
			return "", errors.New("the answer is not a token")
		}
		return s, nil
	case '<':
		return "", errors.New("the answer is an HTML page, not a token (check the base URL)")
	}
	s := string(b)
	if len(s) > maxPlainToken || strings.ContainsAny(s, " \t\r\n") {
		return "", errors.New("the answer is neither JSON nor a plain-text token")
	}
	return s, nil
}

// scalarString returns a JSON string's or number's text, "" for anything
// else (null, absent, an object).
func scalarString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch {
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return strings.TrimSpace(s)
		}
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return n.String()
		}
	case bytes.Equal(raw, []byte("true")), bytes.Equal(raw, []byte("false")):
		return string(raw)
	}
	return ""
}

// encodeBody returns the request body for Do.
func encodeBody(body any) ([]byte, error) {
	switch b := body.(type) {
	case nil:
		return nil, nil
	case []byte:
		return b, nil
	case json.RawMessage:
		return b, nil
	default:
		return json.Marshal(b)
	}
}
