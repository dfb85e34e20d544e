// Package httpcall provides the built-in "httpcall" handler, which makes one
// HTTP request: the everyday integration job of calling a webhook or an API
// on a schedule.
//
// Its public_cfg is
//
//	{
//	  "method": "POST",                       // default GET
//	  "url": "https://api.example.com/hook?key={{secret.API_KEY}}",
//	  "headers": {"Authorization": "Bearer {{secret.TOKEN}}"},
//	  "body": {"event": "nightly"},           // or a string, sent as is
//	  "expect_status": [200, 201],            // default: any 2xx
//	  "timeout": "30s",                       // default 30s; "0s" = only the run's timeout
//	  "follow_redirects": "same_host"         // or "none" or "any"
//	}
//
// {{secret.KEY}} in the url, in header names and values, and in the body (a
// string body, and every string, key or value, inside an object or array
// body) is replaced by the job's secret KEY, so credentials live in the
// encrypted secret_cfg and never in public_cfg. The value is inserted as is
// (in a JSON body it is JSON-escaped): store it URL-encoded if it goes into a
// query string and may contain reserved characters.
//
// Secrets never leave the handler in clear: the run log gets the URL as
// written in public_cfg (placeholders and all), never the request headers,
// and the response's status line and first 4 KiB of body; error messages
// name the URL template too; and secret values echoed by the server are
// masked in the result.
//
// # Redirects
//
// By default a redirect is followed only to the same scheme, host and port
// as the URL of public_cfg ("same_host"): a server that answers with a
// redirect elsewhere cannot make the handler send the job's credentials to a
// host the job author did not name. "none" follows no redirect, and "any"
// follows every redirect (at most 10), but on a hop to another origin it
// drops every header whose name or value contains a secret, a Referer that
// contains one, and a body that contains one (a 307 or 308 would re-send
// it). A redirect that is not followed is the response: it fails the run
// unless expect_status lists it.
//
// # Egress policy
//
// Every connection is checked against an Egress policy (by default the deny
// list DefaultDeny, the cloud metadata addresses) after DNS resolution, and
// every request and redirect is checked by host name before it is sent. A
// refused call fails the run permanently with an error that starts with
// "egress_denied" and names the refused address.
package httpcall

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/tracing"
)

// Name is the handler name jobs put in their "handler" field.
const Name = "httpcall"

// DefaultTimeout bounds a request whose public_cfg sets no "timeout": long
// enough for a slow API, short enough that a hung server does not hold a
// worker slot until the run's own timeout (which is unlimited by default).
const DefaultTimeout = 30 * time.Second

// MaxBodyBytes is how much of the response body is logged and returned.
// The rest is not read: the run log and the run's result are for a human
// checking what happened, not for transferring data.
const MaxBodyBytes = 4 << 10

// Redacted replaces secret values that the server echoed back.
const Redacted = "******"

// methods are the request methods public_cfg may name.
var methods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

//go:embed schema.json
var schema []byte

// maxRedirects is how many redirects a call follows at most, as many as
// net/http's default.
const maxRedirects = 10

// The values of "follow_redirects".
const (
	FollowSameHost = "same_host"
	FollowNone     = "none"
	FollowAny      = "any"
)

// Options configure the handler.
type Options struct {
	// Client makes the requests, for a custom transport (proxy, TLS roots,
	// test servers). Nil means a client with the default transport
	// (proxies from the environment, connection reuse). The client's own
	// Timeout, if any, applies on top of the configured "timeout"; its
	// CheckRedirect is replaced by the handler's redirect policy.
	Client *http.Client
	// Egress is the policy of which addresses may be called. Nil means
	// DefaultEgress(): everything but the cloud metadata addresses. It is
	// enforced at dial time only when the client's transport is nil or an
	// *http.Transport; with a proxy, the addresses checked are the
	// proxy's, and the target is checked by host name only.
	Egress *Egress
}

// Spec returns the httpcall handler's spec with a default HTTP client and
// the default egress policy.
func Spec() handler.Spec { return SpecWithOptions(Options{}) }

// SpecWithClient returns the httpcall handler's spec making its requests
// with client and the default egress policy; see Options.Client.
func SpecWithClient(client *http.Client) handler.Spec {
	return SpecWithOptions(Options{Client: client})
}

// SpecWithOptions returns the httpcall handler's spec configured by o.
func SpecWithOptions(o Options) handler.Spec {
	egress := o.Egress
	if egress == nil {
		egress = DefaultEgress()
	}
	base := o.Client
	if base == nil {
		// No Timeout of its own: every request is bounded by its context
		// instead, so the run's timeout, a cancel request and "timeout" all
		// apply the same way.
		base = &http.Client{}
	}
	c := &caller{client: egress.client(base), egress: egress}
	return handler.Spec{
		Name:         Name,
		Description:  "Makes an HTTP request, with {{secret.KEY}} placeholders in url, headers and body; fails on an unexpected status.",
		ConfigSchema: schema,
		Func:         c.run,
		Translations: map[string]handler.Text{"zh-CN": zhCN},
	}
}

// Response is the result of a successful call, stored as the run's result.
type Response struct {
	// Status is the response status code (after redirects).
	Status int `json:"status"`
	// Headers are the response headers, names in lower case, repeated
	// values joined with ", ".
	Headers map[string]string `json:"headers"`
	// Body is the first MaxBodyBytes of the response body.
	Body string `json:"body"`
	// Truncated reports that the body was longer than MaxBodyBytes.
	Truncated bool `json:"truncated,omitempty"`
}

// config is public_cfg as written.
type config struct {
	Method       string            `json:"method"`
	URL          string            `json:"url"`
	Headers      map[string]string `json:"headers"`
	Body         json.RawMessage   `json:"body"`
	ExpectStatus []int             `json:"expect_status"`
	Timeout      string            `json:"timeout"`
	// FollowRedirects is FollowSameHost (the default), FollowNone or
	// FollowAny.
	FollowRedirects string `json:"follow_redirects"`
}

// request is a validated config with its secrets substituted.
type request struct {
	method  string
	display string // the url as written, placeholders included: safe to log
	url     *url.URL
	header  http.Header
	host    string // a "Host" header, which net/http takes from Request.Host
	body    []byte
	hasBody bool
	expect  []int // nil means any 2xx
	timeout time.Duration
	follow  string
}

type caller struct {
	client *http.Client // its transport enforces egress at dial time
	egress *Egress
}

func (c *caller) run(ctx context.Context, t *handler.Task) (_ *handler.Result, err error) {
	req, redact, err := parse(t)
	if err != nil {
		return nil, err
	}
	log := t.Logger()

	reqCtx := ctx
	if req.timeout > 0 {
		var cancel context.CancelFunc
		reqCtx, cancel = context.WithTimeout(ctx, req.timeout)
		defer cancel()
	}
	// In a traced run the call is a child span of the run's, which records
	// the URL as written (placeholders, not secrets) and the host unless a
	// secret is part of it. The errors returned are the run's, already
	// free of secrets.
	var span *tracing.ClientSpan
	if tracing.Traced(reqCtx) {
		reqCtx, span = tracing.StartClient(reqCtx, req.method, req.spanAttributes(redact)...)
	}
	status := 0
	defer func() {
		var text string
		if err != nil {
			text = err.Error()
		}
		span.End(status, text)
	}()
	var body io.Reader
	if req.hasBody {
		body = bytes.NewReader(req.body)
	}
	httpReq, err := http.NewRequestWithContext(reqCtx, req.method, req.url.String(), body)
	if err != nil {
		return nil, handler.Permanent(fmt.Errorf("%s %s: %s", req.method, req.display, redact(err.Error())))
	}
	httpReq.Header = req.header
	if req.host != "" {
		httpReq.Host = req.host
	}
	span.Inject(reqCtx, httpReq.Header)

	log.Info(req.method + " " + req.display)
	if err := c.egress.checkURLHost(req.url.Hostname()); err != nil {
		return nil, req.failure(ctx, reqCtx, err, redact)
	}
	redirects := &redirectPolicy{req: req, egress: c.egress, redact: redact, log: log}
	client := *c.client
	client.CheckRedirect = redirects.check
	resp, err := client.Do(httpReq)
	if err != nil {
		return nil, req.failure(ctx, reqCtx, err, redact)
	}
	defer resp.Body.Close()
	status = resp.StatusCode
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, req.failure(ctx, reqCtx, fmt.Errorf("reading the response body: %w", err), redact)
	}
	truncated := len(raw) > MaxBodyBytes
	if truncated {
		raw = cutIncompleteRune(raw[:MaxBodyBytes])
	}
	out := Response{
		Status:    resp.StatusCode,
		Headers:   make(map[string]string, len(resp.Header)),
		Body:      redact(string(raw)),
		Truncated: truncated,
	}
	for name, values := range resp.Header {
		out.Headers[strings.ToLower(name)] = redact(strings.Join(values, ", "))
	}

	log.Info(resp.Proto + " " + resp.Status)
	if len(raw) > 0 {
		log.Info("response body", "body", out.Body, "truncated", truncated)
	}
	if !req.expected(resp.StatusCode) {
		if redirects.refused != "" {
			return nil, fmt.Errorf("unexpected status %d (expected %s): the redirect to %s was not followed (follow_redirects is %q)",
				resp.StatusCode, req.expectation(), redact(redirects.refused), req.follow)
		}
		return nil, fmt.Errorf("unexpected status %d (expected %s)", resp.StatusCode, req.expectation())
	}
	return &handler.Result{
		Message: fmt.Sprintf("%s %s → %d", req.method, req.display, resp.StatusCode),
		Data:    out,
	}, nil
}

// failure describes a request that got no (complete) response. It names the
// URL template, never the substituted URL that net/http errors carry, and
// masks any secret value left in the cause (a host name from a secret in a
// DNS error). Cancellation of the run keeps its context error in the chain so
// the caller can tell it apart from a failure.
func (r *request) failure(runCtx, reqCtx context.Context, err error, redact func(string) string) error {
	prefix := r.method + " " + r.display
	if runErr := runCtx.Err(); runErr != nil {
		return fmt.Errorf("%s: %w", prefix, runErr)
	}
	if reqCtx.Err() != nil {
		return fmt.Errorf("%s: no response within the timeout of %s", prefix, r.timeout)
	}
	var egressErr *EgressError
	if errors.As(err, &egressErr) {
		// The code comes first, so that the run's error starts with it; a
		// retry cannot change the policy.
		return handler.Permanent(fmt.Errorf("%w: %s: %s is %s",
			ErrEgressDenied, prefix, redact(egressErr.Address), egressErr.Reason))
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	return fmt.Errorf("%s: %s", prefix, redact(err.Error()))
}

// redirectPolicy is the CheckRedirect of one call.
type redirectPolicy struct {
	req    *request
	egress *Egress
	redact func(string) string
	log    *slog.Logger
	// refused is the origin of a redirect that was not followed, for the
	// error that the unexpected 3xx status then causes.
	refused string
}

// check decides whether the redirect to next is followed and what it
// carries; via holds the requests made so far, the first one first.
func (p *redirectPolicy) check(next *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	cross := origin(next.URL) != origin(via[0].URL)
	switch {
	case p.req.follow == FollowNone,
		p.req.follow == FollowSameHost && cross:
		p.refused = origin(next.URL)
		return http.ErrUseLastResponse
	}
	if err := p.egress.checkURLHost(next.URL.Hostname()); err != nil {
		return err
	}
	if !cross {
		return nil
	}
	// Another origin under "any": nothing that carries a secret goes there.
	// net/http already drops Authorization and Cookie; this drops every
	// other header built from a secret, including a Referer that holds the
	// secret in the previous URL's query.
	for name, values := range next.Header {
		if p.hasSecret(name) || slices.ContainsFunc(values, p.hasSecret) {
			next.Header.Del(name)
		}
	}
	if next.Body != nil && next.Body != http.NoBody && p.hasSecret(string(p.req.body)) {
		next.Body.Close()
		next.Body, next.ContentLength = http.NoBody, 0
		next.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
		p.log.Warn(fmt.Sprintf("redirected to %s: the request body holds a secret and is not sent there", p.redact(origin(next.URL))))
	}
	return nil
}

// hasSecret reports whether s contains the value of one of the job's
// secrets.
func (p *redirectPolicy) hasSecret(s string) bool { return p.redact(s) != s }

// origin is a URL's scheme, host and port, the port explicit, e.g.
// "https://api.example.com:443".
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if strings.EqualFold(u.Scheme, "https") {
			port = "443"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// spanAttributes describe the call in its span: the method, the URL as
// written, and the host and port unless a secret is part of them.
func (r *request) spanAttributes(redact func(string) string) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", r.method),
		attribute.String("url.template", r.display),
	}
	if host := r.url.Host; host != "" && redact(host) == host {
		attrs = append(attrs, attribute.String("server.address", r.url.Hostname()))
		if port := r.url.Port(); port != "" {
			if n, err := strconv.Atoi(port); err == nil {
				attrs = append(attrs, attribute.Int("server.port", n))
			}
		}
	}
	return attrs
}

func (r *request) expected(status int) bool {
	if r.expect == nil {
		return status >= 200 && status <= 299
	}
	return slices.Contains(r.expect, status)
}

func (r *request) expectation() string {
	if r.expect == nil {
		return "2xx"
	}
	parts := make([]string, len(r.expect))
	for i, s := range r.expect {
		parts[i] = strconv.Itoa(s)
	}
	return strings.Join(parts, ", ")
}
