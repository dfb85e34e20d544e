// Package client is a Go client of ConnectHub's REST API. The CLI's client
// commands use it, and so can any Go program that manages jobs.
package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
)

// Client talks to one ConnectHub server.
type Client struct {
	base  string
	token string
	http  *http.Client

	// The typed API, by resource (see Page).
	Jobs          JobsAPI
	Runs          RunsAPI
	Revisions     RevisionsAPI
	Notifications NotificationsAPI
	Batches       BatchesAPI
}

// New returns a client for the server at baseURL (e.g.
// "http://127.0.0.1:8000") authenticating with token.
func New(baseURL, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q must look like http://host:port", baseURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	c := &Client{base: u.String(), token: token, http: hc}
	c.Jobs, c.Runs, c.Revisions = JobsAPI{c}, RunsAPI{c}, RevisionsAPI{c}
	c.Notifications, c.Batches = NotificationsAPI{c}, BatchesAPI{c}
	return c, nil
}

// APIError is an error answered by the server.
type APIError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

func (e *APIError) Error() string {
	msg := e.Message
	if e.Field != "" && !strings.HasPrefix(msg, e.Field) {
		msg = e.Field + ": " + msg
	}
	return fmt.Sprintf("%s (HTTP %d %s)", msg, e.Status, e.Code)
}

// do performs a request and decodes its JSON answer into out (nil: the
// answer is read and dropped).
//
// A GET that fails on the connection (refused, reset, or closed while its
// answer was read, as a reloading proxy does to kept-alive connections) is
// sent once more: it changes nothing, so a second one is safe. Any other
// method is sent once, since a second POST could do the work twice.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	err := c.doOnce(ctx, method, path, query, body, out)
	if err != nil && (method == http.MethodGet || requestKey(ctx) != "") && connectionFailed(ctx, err) {
		err = c.doOnce(ctx, method, path, query, body, out)
	}
	return err
}

// requestKeyCtx carries the Idempotency-Key of a request (see withRequestKey).
type requestKeyCtx struct{}

// withRequestKey returns ctx with a new random Idempotency-Key for the one
// request it carries: the server answers a repeat of that request with
// what the first one did, so do may send it again when its connection
// failed, and so may net/http's transport, which retries a request with
// that header on a kept-alive connection the server closed.
func withRequestKey(ctx context.Context) context.Context {
	return context.WithValue(ctx, requestKeyCtx{}, rand.Text())
}

// requestKey returns the Idempotency-Key that ctx carries, or "".
func requestKey(ctx context.Context) string {
	k, _ := ctx.Value(requestKeyCtx{}).(string)
	return k
}

// connectionFailed reports whether err is a failure of the connection
// rather than an answer: not an API error, not an answer that is not the
// JSON expected, and not the caller's context ending.
func connectionFailed(ctx context.Context, err error) bool {
	var (
		apiErr *APIError
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	return ctx.Err() == nil && !errors.As(err, &apiErr) && !errors.As(err, &syntax) && !errors.As(err, &typ)
}

// doOnce is one attempt of do.
func (c *Client) doOnce(ctx context.Context, method, path string, query url.Values, body, out any) error {
	resp, err := c.send(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return nil
}

// send performs a request and turns non-2xx answers into *APIError.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case []byte:
			rd = bytes.NewReader(b)
		case json.RawMessage:
			rd = bytes.NewReader(b)
		default:
			buf, err := json.Marshal(body)
			if err != nil {
				return nil, err
			}
			rd = bytes.NewReader(buf)
		}
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if k := requestKey(ctx); k != "" {
		req.Header.Set("Idempotency-Key", k)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("X-ConnectHub-Actor", "cli")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach ConnectHub at %s: %w", c.base, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var eb struct {
			Error APIError `json:"error"`
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(data, &eb) != nil || eb.Error.Message == "" {
			eb.Error = APIError{Code: http.StatusText(resp.StatusCode), Message: strings.TrimSpace(string(data))}
			if eb.Error.Message == "" {
				eb.Error.Message = resp.Status
			}
		}
		eb.Error.Status = resp.StatusCode
		return nil, &eb.Error
	}
	return resp, nil
}

// JobList is a page of jobs.
type JobList struct {
	Jobs       []connecthub.Job `json:"jobs"`
	NextCursor string           `json:"next_cursor"`
}

// ListJobs lists jobs; query may hold q, enabled, handler, limit, cursor.
func (c *Client) ListJobs(ctx context.Context, query url.Values) (*JobList, error) {
	var out JobList
	return &out, c.do(ctx, http.MethodGet, "/api/v1/jobs", query, nil, &out)
}

// GetJob returns one job.
func (c *Client) GetJob(ctx context.Context, id string) (*connecthub.Job, error) {
	var out connecthub.Job
	return &out, c.do(ctx, http.MethodGet, "/api/v1/jobs/"+url.PathEscape(id), nil, nil, &out)
}

// Warning is a non-fatal remark on a job save, such as a handler that only
// inactive nodes serve.
type Warning struct {
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// SavedJob is the answer to a job create or update: the job and the
// warnings of the save.
type SavedJob struct {
	connecthub.Job
	Warnings []Warning `json:"warnings"`
}

// CreateJob creates a job from a JSON body (the job fields of docs/api.md).
func (c *Client) CreateJob(ctx context.Context, body json.RawMessage) (*SavedJob, error) {
	var out SavedJob
	return &out, c.do(ctx, http.MethodPost, "/api/v1/jobs", nil, body, &out)
}

// UpdateJob applies a partial update.
func (c *Client) UpdateJob(ctx context.Context, id string, body json.RawMessage) (*SavedJob, error) {
	var out SavedJob
	return &out, c.do(ctx, http.MethodPatch, "/api/v1/jobs/"+url.PathEscape(id), nil, body, &out)
}

// DeleteJob deletes a job and its runs.
func (c *Client) DeleteJob(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/jobs/"+url.PathEscape(id), nil, nil, nil)
}

// SetJobEnabled enables or disables a job.
func (c *Client) SetJobEnabled(ctx context.Context, id string, enabled bool) (*connecthub.Job, error) {
	action := "disable"
	if enabled {
		action = "enable"
	}
	var out connecthub.Job
	return &out, c.do(ctx, http.MethodPost, "/api/v1/jobs/"+url.PathEscape(id)+"/"+action, nil, nil, &out)
}

// RunJob runs a job now. The request carries an Idempotency-Key of its
// own, so a request lost with its connection is sent again without the
// risk of two runs.
func (c *Client) RunJob(ctx context.Context, id string) (*connecthub.Run, error) {
	var out connecthub.Run
	return &out, c.do(withRequestKey(ctx), http.MethodPost, "/api/v1/jobs/"+url.PathEscape(id)+"/run", nil, nil, &out)
}

// RunList is a page of runs.
type RunList struct {
	Runs       []connecthub.Run `json:"runs"`
	NextCursor string           `json:"next_cursor"`
}

// ListRuns lists runs; query may hold job_id, status, trigger, since, until, limit, cursor.
func (c *Client) ListRuns(ctx context.Context, query url.Values) (*RunList, error) {
	var out RunList
	return &out, c.do(ctx, http.MethodGet, "/api/v1/runs", query, nil, &out)
}

// GetRun returns one run.
func (c *Client) GetRun(ctx context.Context, id string) (*connecthub.Run, error) {
	var out connecthub.Run
	return &out, c.do(ctx, http.MethodGet, "/api/v1/runs/"+url.PathEscape(id), nil, nil, &out)
}

// RetryRun retries a terminal run from its snapshot.
func (c *Client) RetryRun(ctx context.Context, id string) (*connecthub.Run, error) {
	var out connecthub.Run
	return &out, c.do(ctx, http.MethodPost, "/api/v1/runs/"+url.PathEscape(id)+"/retry", nil, nil, &out)
}

// CancelRun cancels a queued or running run.
func (c *Client) CancelRun(ctx context.Context, id string) (*connecthub.Run, error) {
	var out connecthub.Run
	return &out, c.do(ctx, http.MethodPost, "/api/v1/runs/"+url.PathEscape(id)+"/cancel", nil, nil, &out)
}

// RunLog returns the whole run log and the run's status.
func (c *Client) RunLog(ctx context.Context, id string) (string, connecthub.RunStatus, error) {
	resp, err := c.send(ctx, http.MethodGet, "/api/v1/runs/"+url.PathEscape(id)+"/log", nil, nil)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), connecthub.RunStatus(resp.Header.Get("X-Run-Status")), err
}

// FollowRunLog streams the run log to w until the run ends and returns its
// final status. It reconnects from the last offset if the stream breaks.
func (c *Client) FollowRunLog(ctx context.Context, id string, w io.Writer) (connecthub.RunStatus, error) {
	var offset int64
	for attempt := 0; ; attempt++ {
		q := url.Values{"follow": {"1"}, "offset": {strconv.FormatInt(offset, 10)}}
		resp, err := c.send(ctx, http.MethodGet, "/api/v1/runs/"+url.PathEscape(id)+"/log", q, nil)
		if err != nil {
			return "", err
		}
		status, next, err := readSSE(resp.Body, w, offset)
		resp.Body.Close()
		offset = next
		if status != "" {
			return status, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if attempt >= 5 {
			return "", fmt.Errorf("log stream of run %s broke: %v", id, err)
		}
		time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
	}
}

// readSSE copies "log" events to w and returns the status of the "end"
// event, if one came, and the offset reached.
func readSSE(r io.Reader, w io.Writer, offset int64) (connecthub.RunStatus, int64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var event, id string
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			switch event {
			case "log":
				for _, d := range data {
					fmt.Fprintln(w, d)
				}
				if n, err := strconv.ParseInt(id, 10, 64); err == nil {
					offset = n
				}
			case "end":
				return connecthub.RunStatus(strings.Join(data, "")), offset, nil
			}
			event, id, data = "", "", nil
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "id:"):
			id = strings.TrimSpace(strings.TrimPrefix(line, "id:"))
		case strings.HasPrefix(line, "data:"):
			d := strings.TrimPrefix(line, "data:")
			data = append(data, strings.TrimPrefix(d, " "))
		}
	}
	return "", offset, sc.Err()
}

// CronNext previews fire times.
func (c *Client) CronNext(ctx context.Context, expr, tz string, n int) ([]string, error) {
	var out struct {
		Times []string `json:"times"`
	}
	q := url.Values{"expr": {expr}, "n": {strconv.Itoa(n)}}
	if tz != "" {
		q.Set("tz", tz)
	}
	return out.Times, c.do(ctx, http.MethodGet, "/api/v1/cron/next", q, nil, &out)
}

// Stats returns queue statistics.
func (c *Client) Stats(ctx context.Context) (*connecthub.Stats, error) {
	var out connecthub.Stats
	return &out, c.do(ctx, http.MethodGet, "/api/v1/stats", nil, nil, &out)
}

// RunJobWith enqueues a run now with parameters: params (a JSON object) is
// merged over the job's public_cfg for this run only. Nil params is a
// plain run, as RunJob starts. Like RunJob, it carries an Idempotency-Key,
// so it is sent again if its connection fails.
func (c *Client) RunJobWith(ctx context.Context, id string, params json.RawMessage) (*connecthub.Run, error) {
	if params == nil {
		return c.RunJob(ctx, id)
	}
	var out connecthub.Run
	body := map[string]json.RawMessage{"params": params}
	return &out, c.do(withRequestKey(ctx), http.MethodPost, "/api/v1/jobs/"+url.PathEscape(id)+"/run", nil, body, &out)
}
