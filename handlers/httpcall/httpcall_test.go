package httpcall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handler/handlertest"
)

// secrets are the job secrets of every test; none of their values may show
// up in a message, an error or the run log.
var secrets = map[string]string{
	"API_KEY": "k-9f8e7d",
	"TOKEN":   "t0ps3cret",
	"HDR":     "Custom",
	"QUOTE":   `he said "hi" <&>`,
	"KEYNAME": "kname",
}

// seen is one request as the test server received it.
type seen struct {
	Method, Path, Query, Host, Body string
	Header                          http.Header
}

// server is a test server that records every request and answers with
// respond (200 "hello" when nil).
type server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func newServer(t *testing.T, respond http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Host, string(body), r.Header.Clone()})
		s.mu.Unlock()
		if respond == nil {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "hello")
			return
		}
		respond(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.reqs...)
}

// call runs the handler with config, where %s stands for the server's URL.
func call(ctx context.Context, t *testing.T, s *server, config string) (*handler.Result, *handlertest.Recorder, error) {
	t.Helper()
	task, rec := handlertest.NewTask(strings.ReplaceAll(config, "%s", s.URL), secrets)
	res, err := SpecWithClient(s.Client()).Func(ctx, task)
	return res, rec, err
}

// assertNoSecrets fails if any secret value appears in text.
func assertNoSecrets(t *testing.T, what, text string) {
	t.Helper()
	for k, v := range secrets {
		if strings.Contains(text, v) {
			t.Errorf("%s contains the value of secret %s: %q", what, k, text)
		}
	}
}

// assertLogClean fails if a logged record carries a secret value or a
// request header.
func assertLogClean(t *testing.T, rec *handlertest.Recorder) {
	t.Helper()
	for _, r := range rec.Records() {
		line := r.Message + fmt.Sprint(r.Attrs)
		assertNoSecrets(t, "run log", line)
		if strings.Contains(line, "Bearer") {
			t.Errorf("run log contains a request header: %q", line)
		}
	}
}

func TestCallSendsTheRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		config   string
		want     seen // Header holds only the headers to check
		noHeader []string
		message  string
	}{
		{
			name:    "GET by default",
			config:  `{"url": "%s/ok"}`,
			want:    seen{Method: "GET", Path: "/ok"},
			message: "GET %s/ok → 200",
		},
		{
			name: "secrets in url, header names and values, and a string body",
			config: `{"method": "POST", "url": "%s/hook?key={{secret.API_KEY}}",
				"headers": {"Authorization": "Bearer {{secret.TOKEN}}", "X-{{secret.HDR}}": "1"},
				"body": "token={{ secret.TOKEN }}&q={{secret.QUOTE}}"}`,
			want: seen{Method: "POST", Path: "/hook", Query: "key=k-9f8e7d",
				Body:   `token=t0ps3cret&q=he said "hi" <&>`,
				Header: http.Header{"Authorization": {"Bearer t0ps3cret"}, "X-Custom": {"1"}}},
			noHeader: []string{"Content-Type"},
			message:  "POST %s/hook?key={{secret.API_KEY}} → 200",
		},
		{
			name: "object body: JSON with secrets JSON-escaped, order and numbers kept",
			config: `{"method": "PUT", "url": "%s/obj", "body": {"b": "{{secret.QUOTE}}",
				"a": [1, 2.50, "x{{secret.TOKEN}}"], "{{secret.KEYNAME}}": true, "n": null}}`,
			want: seen{Method: "PUT", Path: "/obj",
				Body:   `{"b":"he said \"hi\" <&>","a":[1,2.50,"xt0ps3cret"],"kname":true,"n":null}`,
				Header: http.Header{"Content-Type": {"application/json"}}},
			message: "PUT %s/obj → 200",
		},
		{
			name:   "array body",
			config: `{"method": "POST", "url": "%s/arr", "body": ["{{secret.API_KEY}}", 2]}`,
			want: seen{Method: "POST", Path: "/arr", Body: `["k-9f8e7d",2]`,
				Header: http.Header{"Content-Type": {"application/json"}}},
			message: "POST %s/arr → 200",
		},
		{
			name: "a Content-Type header wins over the JSON default",
			config: `{"method": "PATCH", "url": "%s/ct", "headers": {"content-type": "application/merge-patch+json"},
				"body": {"a": 1}}`,
			want: seen{Method: "PATCH", Path: "/ct", Body: `{"a":1}`,
				Header: http.Header{"Content-Type": {"application/merge-patch+json"}}},
			message: "PATCH %s/ct → 200",
		},
		{
			name:    "a Host header sets the request's host",
			config:  `{"url": "%s/h", "headers": {"Host": "api.example.com"}}`,
			want:    seen{Method: "GET", Path: "/h", Host: "api.example.com"},
			message: "GET %s/h → 200",
		},
		{
			name:    "null body and zero timeout",
			config:  `{"method": "DELETE", "url": "%s/d", "body": null, "timeout": "0s"}`,
			want:    seen{Method: "DELETE", Path: "/d"},
			message: "DELETE %s/d → 200",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, nil)
			res, rec, err := call(context.Background(), t, s, tt.config)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			reqs := s.requests()
			if len(reqs) != 1 {
				t.Fatalf("server got %d requests, want 1", len(reqs))
			}
			got := reqs[0]
			if got.Method != tt.want.Method || got.Path != tt.want.Path || got.Query != tt.want.Query || got.Body != tt.want.Body {
				t.Errorf("server got %s %s?%s body %q; want %s %s?%s body %q",
					got.Method, got.Path, got.Query, got.Body, tt.want.Method, tt.want.Path, tt.want.Query, tt.want.Body)
			}
			if tt.want.Host != "" && got.Host != tt.want.Host {
				t.Errorf("Host = %q, want %q", got.Host, tt.want.Host)
			}
			for name, values := range tt.want.Header {
				if g := got.Header.Get(name); g != values[0] {
					t.Errorf("header %s = %q, want %q", name, g, values[0])
				}
			}
			for _, name := range tt.noHeader {
				if g := got.Header.Get(name); g != "" {
					t.Errorf("header %s = %q, want none", name, g)
				}
			}
			if want := strings.ReplaceAll(tt.message, "%s", s.URL); res.Message != want {
				t.Errorf("message = %q, want %q", res.Message, want)
			}
			assertNoSecrets(t, "message", res.Message)
			assertLogClean(t, rec)
		})
	}
}

func TestCallResult(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("0123456789abcdef", 640) // 10 KiB
	// One ASCII byte, then two-byte runes: the 4 KiB cut falls inside one.
	split := "a" + strings.Repeat("é", 3000)
	tests := []struct {
		name      string
		status    int
		body      string
		config    string
		wantBody  string
		truncated bool
	}{
		{name: "short body", status: 200, body: "hello", wantBody: "hello"},
		{name: "no content", status: 204, body: "", wantBody: ""},
		{name: "cut at 4 KiB", status: 200, body: big, wantBody: big[:MaxBodyBytes], truncated: true},
		{name: "cut before a split rune", status: 200, body: split, wantBody: split[:MaxBodyBytes-1], truncated: true},
		{name: "echoed secrets are masked", status: 200, body: "your token is t0ps3cret.",
			wantBody: "your token is ******."},
		{name: "an expected non-2xx status", status: 404, body: "gone", config: `{"url": "%s", "expect_status": [404]}`,
			wantBody: "gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.Header().Set("X-Echo", "t0ps3cret")
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			config := tt.config
			if config == "" {
				config = `{"url": "%s"}`
			}
			res, rec, err := call(context.Background(), t, s, config)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			data, ok := res.Data.(Response)
			if !ok {
				t.Fatalf("Data is %T, want Response", res.Data)
			}
			if data.Status != tt.status || data.Body != tt.wantBody || data.Truncated != tt.truncated {
				t.Errorf("data = status %d, %d body bytes, truncated %v; want %d, %d, %v",
					data.Status, len(data.Body), data.Truncated, tt.status, len(tt.wantBody), tt.truncated)
			}
			if !utf8.ValidString(data.Body) {
				t.Errorf("body is not valid UTF-8 after the cut")
			}
			if got := data.Headers["content-type"]; got != "text/plain; charset=utf-8" {
				t.Errorf(`headers["content-type"] = %q`, got)
			}
			if got := data.Headers["x-echo"]; got != Redacted {
				t.Errorf(`headers["x-echo"] = %q, want it masked`, got)
			}

			msgs := rec.Messages()
			want := fmt.Sprintf("HTTP/1.1 %d %s", tt.status, http.StatusText(tt.status))
			if len(msgs) < 2 || msgs[0] != "GET "+s.URL || msgs[1] != want {
				t.Errorf("log = %q, want the request line then %q", msgs, want)
			}
			if tt.body == "" {
				if len(msgs) != 2 {
					t.Errorf("log = %q, want no body line for an empty body", msgs)
				}
			} else {
				records := rec.Records()
				if len(records) != 3 || records[2].Attrs["body"] != tt.wantBody {
					t.Errorf("log = %+v, want the body line with the first 4 KiB", records)
				}
			}
			assertLogClean(t, rec)
		})
	}
}

func TestCallUnexpectedStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		config  string
		wantErr string
	}{
		{"default is any 2xx", 500, `{"url": "%s"}`, "unexpected status 500 (expected 2xx)"},
		{"a client error", 404, `{"url": "%s"}`, "unexpected status 404 (expected 2xx)"},
		{"a 2xx outside the list", 200, `{"url": "%s", "expect_status": [201, 202]}`, "unexpected status 200 (expected 201, 202)"},
		{"a listed pair", 500, `{"url": "%s", "expect_status": [200, 201]}`, "unexpected status 500 (expected 200, 201)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, "oops")
			})
			res, rec, err := call(context.Background(), t, s, tt.config)
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("result %+v, err = %v; want %q", res, err, tt.wantErr)
			}
			if handler.IsPermanent(err) {
				t.Errorf("an unexpected status must be retryable")
			}
			// The status and body are logged even when the status fails the run.
			if msgs := rec.Messages(); len(msgs) != 3 || !strings.Contains(msgs[1], fmt.Sprint(tt.status)) {
				t.Errorf("log = %q, want the status line and body", msgs)
			}
		})
	}
}

func TestCallTimeoutAndCancellation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		config  string
		ctx     func() (context.Context, context.CancelFunc)
		check   func(error) bool
		wantErr string
	}{
		{
			name:   "the configured timeout",
			config: `{"url": "%s/slow", "timeout": "50ms"}`,
			ctx:    func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			check: func(err error) bool {
				return !errors.Is(err, context.DeadlineExceeded) && !handler.IsPermanent(err)
			},
			wantErr: "GET %s/slow: no response within the timeout of 50ms",
		},
		{
			name:   "the run's context",
			config: `{"url": "%s/slow", "timeout": "1h"}`,
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			},
			check:   func(err error) bool { return errors.Is(err, context.DeadlineExceeded) },
			wantErr: "GET %s/slow: context deadline exceeded",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
			ctx, cancel := tt.ctx()
			defer cancel()
			_, _, err := call(ctx, t, s, tt.config)
			if want := strings.ReplaceAll(tt.wantErr, "%s", s.URL); err == nil || err.Error() != want {
				t.Fatalf("err = %v, want %q", err, want)
			}
			if !tt.check(err) {
				t.Errorf("err = %#v has the wrong kind", err)
			}
		})
	}
}

func TestCallTransportErrorHidesSecrets(t *testing.T) {
	t.Parallel()
	// A port nobody listens on, passed as a secret: the dial error names it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()

	task, _ := handlertest.NewTask(`{"url": "http://127.0.0.1:{{secret.PORT}}/x?t={{secret.TOKEN}}"}`,
		map[string]string{"PORT": port, "TOKEN": "t0ps3cret"})
	_, err = Spec().Func(context.Background(), task)
	if err == nil {
		t.Fatal("a call to a closed port succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, port) || strings.Contains(msg, "t0ps3cret") ||
		!strings.HasPrefix(msg, "GET http://127.0.0.1:{{secret.PORT}}/x?t={{secret.TOKEN}}: ") {
		t.Errorf("err = %q, want it to name the URL template and no secret", msg)
	}
	if handler.IsPermanent(err) {
		t.Errorf("a connection error must be retryable")
	}
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		config  string
		wantErr string
	}{
		{"missing url", `{"method": "GET"}`, "url is required"},
		{"blank url", `{"url": "  "}`, "url is required"},
		{"not http", `{"url": "ftp://example.com/x"}`, `url "ftp://example.com/x": the scheme must be http or https`},
		{"relative url", `{"url": "/just/a/path"}`, `url "/just/a/path": the scheme must be http or https`},
		{"no host", `{"url": "http:///x"}`, `url "http:///x" has no host`},
		{"unparsable url", `{"url": "http://[::1"}`, `url "http://[::1" is not a valid URL`},
		{"bad method", `{"url": "%s", "method": "FETCH"}`, `method "FETCH" is not supported`},
		{"lower-case method", `{"url": "%s", "method": "post"}`, `method "post" is not supported`},
		{"bad timeout", `{"url": "%s", "timeout": "30"}`, `timeout "30" is not a duration`},
		{"negative timeout", `{"url": "%s", "timeout": "-1s"}`, `timeout "-1s" must not be negative`},
		{"status out of range", `{"url": "%s", "expect_status": [99]}`, "expect_status: 99 is not an HTTP status code"},
		{"status as a string", `{"url": "%s", "expect_status": ["200"]}`, "must be an integer, not a string"},
		{"number body", `{"url": "%s", "body": 42}`, "body must be a string, an object or an array"},
		{"bad header name", `{"url": "%s", "headers": {"Bad Name": "x"}}`, `headers: "Bad Name" is not a valid header name`},
		{"header value with a newline", `{"url": "%s", "headers": {"X-A": "a\r\nX-B: b"}}`, "headers.X-A: the value contains a line break"},
		{"secret value with a newline", `{"url": "%s", "headers": {"X-A": "{{secret.NL}}"}}`, "headers.X-A: the value contains a line break"},
		{"header as a number", `{"url": "%s", "headers": {"X-A": 1}}`, "must be a string, not a number"},
		{"unknown key", `{"uri": "%s"}`, `unknown key "uri"`},
		{"not an object", `["%s"]`, "public_cfg must be a JSON object"},
		{"unknown secret in url", `{"url": "%s/?k={{secret.NOPE}}"}`, `url: unknown secret "NOPE"`},
		{"unknown secret in a header name", `{"url": "%s", "headers": {"X-{{secret.NOPE}}": "1"}}`, `headers: unknown secret "NOPE"`},
		{"unknown secret in a header value", `{"url": "%s", "headers": {"X-A": "{{secret.NOPE}}"}}`, `headers.X-A: unknown secret "NOPE"`},
		{"unknown secret in a string body", `{"url": "%s", "body": "{{secret.NOPE}}"}`, `body: unknown secret "NOPE"`},
		{"unknown secret in an object body", `{"url": "%s", "body": {"a": ["{{secret.NOPE}}"]}}`, `body: unknown secret "NOPE"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, nil)
			task, _ := handlertest.NewTask(strings.ReplaceAll(tt.config, "%s", s.URL),
				map[string]string{"TOKEN": "t0ps3cret", "NL": "a\nb"})
			_, err := SpecWithClient(s.Client()).Func(context.Background(), task)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
			if !handler.IsPermanent(err) {
				t.Errorf("err = %v is not permanent", err)
			}
			assertNoSecrets(t, "error", err.Error())
			if n := len(s.requests()); n != 0 {
				t.Errorf("a bad config still sent %d requests", n)
			}
		})
	}
}

func TestSpec(t *testing.T) {
	t.Parallel()
	spec := Spec()
	if spec.Name != "httpcall" || spec.Func == nil || spec.Description == "" {
		t.Fatalf("spec = %+v", spec)
	}
	valid := []string{
		`{"url": "https://example.com"}`,
		`{"url": "{{secret.BASE_URL}}/hook"}`,
		`{"method": "POST", "url": "http://example.com/x?k={{secret.K}}", "headers": {"A": "b"},
			"body": {"a": [1]}, "expect_status": [200, 201], "timeout": "1m30s"}`,
		`{"url": "https://example.com", "body": "text", "timeout": "0"}`,
		`{"url": "https://example.com", "body": [1, 2], "timeout": "1.5s", "expect_status": []}`,
	}
	invalid := []string{
		`{}`,
		`{"url": ""}`,
		`{"url": "ftp://example.com"}`,
		`{"url": "https://example.com", "method": "FETCH"}`,
		`{"url": "https://example.com", "headers": {"A": 1}}`,
		`{"url": "https://example.com", "body": 42}`,
		`{"url": "https://example.com", "expect_status": [99]}`,
		`{"url": "https://example.com", "expect_status": [200.5]}`,
		`{"url": "https://example.com", "timeout": "30"}`,
		`{"url": "https://example.com", "timeout": "-1s"}`,
		`{"url": "https://example.com", "uri": "x"}`,
	}
	handlertest.CheckSchema(t, spec, valid, invalid)

	// What the schema accepts, the handler accepts too, so a job that saves
	// does not then fail on a config error at every run.
	for _, cfg := range valid {
		task, _ := handlertest.NewTask(cfg, map[string]string{"BASE_URL": "https://example.com", "K": "v"})
		if _, _, err := parse(task); err != nil {
			t.Errorf("the schema accepts %s but the handler rejects it: %v", cfg, err)
		}
	}
}
