package seeyon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub/integrations/seeyon/seeyontest"
)

// setup starts a fake OA with one form and returns a client of it.
func setup(t *testing.T, opts seeyontest.Options, mutate func(*Config)) (*seeyontest.Server, *Client) {
	t.Helper()
	srv := seeyontest.NewServer(t, opts)
	srv.SetForm("HR1", []byte(`{"code":0,"data":{"data":{"definition":{},"data":[]}}}`), "application/json;charset=UTF-8")
	cfg := Config{
		BaseURL:      srv.URL,
		RESTUser:     seeyontest.DefaultUser,
		RESTPassword: seeyontest.DefaultPassword,
		Timeout:      10 * time.Second,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	good := Config{BaseURL: "https://oa.example.com", RESTUser: "rest", RESTPassword: "pw"}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{name: "good"},
		{name: "no base URL", mutate: func(c *Config) { c.BaseURL = " " }, wantErr: "base URL is required"},
		{name: "relative base URL", mutate: func(c *Config) { c.BaseURL = "oa.example.com" }, wantErr: "must be an http:// or https:// URL"},
		{name: "ftp base URL", mutate: func(c *Config) { c.BaseURL = "ftp://oa" }, wantErr: "must be an http:// or https:// URL"},
		{name: "query in base URL", mutate: func(c *Config) { c.BaseURL = "https://oa/?x=1" }, wantErr: "must not have a query"},
		{name: "no user", mutate: func(c *Config) { c.RESTUser = "" }, wantErr: "REST user is required"},
		{name: "no password", mutate: func(c *Config) { c.RESTPassword = "" }, wantErr: "REST password is required"},
		{name: "negative timeout", mutate: func(c *Config) { c.Timeout = -time.Second }, wantErr: "timeout must not be negative"},
		{name: "negative body limit", mutate: func(c *Config) { c.MaxBodyBytes = -1 }, wantErr: "body limit must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := good
			if tt.mutate != nil {
				tt.mutate(&cfg)
			}
			c, err := New(cfg)
			if tt.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("New = %v, %v", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNormalizeBaseURL(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"https://oa.example.com":             "https://oa.example.com",
		"https://oa.example.com/":            "https://oa.example.com",
		"https://oa.example.com/seeyon":      "https://oa.example.com",
		"https://oa.example.com/seeyon/":     "https://oa.example.com",
		" http://10.0.0.5:8080/oa/seeyon/  ": "http://10.0.0.5:8080/oa",
		"http://10.0.0.5:8080/oa":            "http://10.0.0.5:8080/oa",
	}
	for in, want := range tests {
		got, err := normalizeBaseURL(in)
		if err != nil || got != want {
			t.Errorf("normalizeBaseURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestParseToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body    string
		want    string
		wantErr string
	}{
		{body: `{"id":"6e1d2f","bindingUser":{"name":"x"}}`, want: "6e1d2f"},
		{body: "\ufeff" + `{"id":" 6e1d2f "}`, want: "6e1d2f"},
		{body: `{"id":12345}`, want: "12345"},
		{body: `"6e1d2f"`, want: "6e1d2f"},
		{body: "6e1d2f-aa\r\n", want: "6e1d2f-aa"},
		{body: ``, wantErr: "empty"},
		{body: `{"id":""}`, wantErr: `no token "id"`},
		{body: `{"bindingUser":{}}`, wantErr: `no token "id"`},
		{body: `{"id":null}`, wantErr: `no token "id"`},
		{body: `{"id":`, wantErr: "not valid JSON"},
		{body: `"two words"`, wantErr: "not a token"},
		{body: `<html><body>login</body></html>`, wantErr: "HTML page"},
		{body: "an error occurred", wantErr: "neither JSON nor a plain-text token"},
		{body: strings.Repeat("a", maxPlainToken+1), wantErr: "neither JSON nor a plain-text token"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			t.Parallel()
			got, err := parseToken([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseToken = %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseToken = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		plain     bool
		loginName string
	}{
		{name: "JSON token"},
		{name: "plain-text token", plain: true},
		{name: "bound to a login name", loginName: "zhangsan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t, seeyontest.Options{PlainTextToken: tt.plain}, func(cfg *Config) { cfg.LoginName = tt.loginName })
			tok, err := c.Login(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(tok) < 20 || strings.ContainsAny(tok, "{}\" ") {
				t.Fatalf("token = %q, want the bare token", tok)
			}
			// Token reuses the login; Login always logs in again.
			if got, err := c.Token(t.Context()); err != nil || got != tok {
				t.Fatalf("Token = %q, %v; want the cached %q", got, err, tok)
			}
			again, err := c.Login(t.Context())
			if err != nil || again == tok {
				t.Fatalf("second Login = %q, %v; want a new token", again, err)
			}
			if got := srv.Logins(); got != 2 {
				t.Errorf("logins = %d, want 2", got)
			}
			if got := srv.LoginNames(); !reflect.DeepEqual(got, []string{tt.loginName, tt.loginName}) {
				t.Errorf("login names = %q", got)
			}
			// The token works.
			if _, err := c.ExportForm(t.Context(), ExportRequest{TemplateCode: "HR1"}); err != nil {
				t.Fatal(err)
			}
			if got := srv.Logins(); got != 2 {
				t.Errorf("logins after a call = %d, want 2", got)
			}
		})
	}
}

func TestLoginFailure(t *testing.T) {
	t.Parallel()
	srv, c := setup(t, seeyontest.Options{}, func(cfg *Config) { cfg.RESTPassword = "wrong-pass" })
	_, err := c.ExportForm(t.Context(), ExportRequest{TemplateCode: "HR1"})
	var httpErr *HTTPError
	if !errors.As(err, &httpErr) || httpErr.StatusCode != http.StatusUnauthorized || !errors.Is(err, ErrLogin) {
		t.Fatalf("err = %v, want a 401 login error", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "seeyon: POST /seeyon/rest/token: HTTP 401") || strings.Contains(msg, "wrong-pass") {
		t.Errorf("error %q must name the call and status and not the password", msg)
	}
	if srv.Requests(seeyontest.FormExportPath) != 0 {
		t.Error("the export was sent without a token")
	}
}

// TestRejectedTokenRefreshesOnce covers both ways Seeyon rejects a token:
// one fresh login and one retry succeed; a second rejection is returned,
// never a third attempt.
func TestRejectedTokenRefreshesOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		rejection seeyontest.Rejection
		always    bool // reject fresh tokens too
	}{
		{name: "401 then success", rejection: seeyontest.RejectStatus},
		{name: "Invalid token body then success", rejection: seeyontest.RejectBody},
		{name: "401 twice", rejection: seeyontest.RejectStatus, always: true},
		{name: "Invalid token body twice", rejection: seeyontest.RejectBody, always: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t, seeyontest.Options{Rejection: tt.rejection}, nil)
			first, err := c.Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			srv.ExpireTokens()
			srv.RejectAllTokens(tt.always)

			resp, err := c.ExportForm(t.Context(), ExportRequest{TemplateCode: "HR1"})
			if got := srv.Logins(); got != 2 {
				t.Errorf("logins = %d, want 2 (the first and one refresh)", got)
			}
			if got := srv.Requests(seeyontest.FormExportPath); got != 2 {
				t.Errorf("export requests = %d, want 2 (the first and one retry)", got)
			}
			if tt.always {
				if !errors.Is(err, ErrTokenRejected) {
					t.Fatalf("err = %v, want ErrTokenRejected", err)
				}
				if strings.Contains(err.Error(), first) || strings.Contains(err.Error(), seeyontest.DefaultPassword) {
					t.Errorf("error %q leaks a token or the password", err)
				}
				if !strings.Contains(err.Error(), "seeyon: POST /seeyon/rest/cap4/form/soap/export: HTTP") {
					t.Errorf("error %q does not name the call and status", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(resp.Body), `"code":0`) {
				t.Fatalf("response = %d %s", resp.StatusCode, resp.Body)
			}
			if tok, _ := c.Token(t.Context()); tok == first {
				t.Error("the client still holds the rejected token")
			}
		})
	}
}

// TestAfterTwoRejectionsNextCallLogsIn checks that a token rejected twice is
// not reused by the next call.
func TestAfterTwoRejectionsNextCallLogsIn(t *testing.T) {
	t.Parallel()
	srv, c := setup(t, seeyontest.Options{}, nil)
	srv.RejectAllTokens(true)
	if _, err := c.ExportForm(t.Context(), ExportRequest{TemplateCode: "HR1"}); !errors.Is(err, ErrTokenRejected) {
		t.Fatalf("err = %v, want ErrTokenRejected", err)
	}
	srv.RejectAllTokens(false)
	if _, err := c.ExportForm(t.Context(), ExportRequest{TemplateCode: "HR1"}); err != nil {
		t.Fatal(err)
	}
	if got := srv.Logins(); got != 3 {
		t.Errorf("logins = %d, want 3", got)
	}
}

// TestConcurrentRejectionsShareOneLogin holds every rejection back until
// all callers' requests have reached the server, then lets them go at once:
// a client that logged in per rejected caller would be caught.
func TestConcurrentRejectionsShareOneLogin(t *testing.T) {
	t.Parallel()
	const callers = 8
	arrived := make(chan struct{}, callers)
	release := make(chan struct{})
	srv, c := setup(t, seeyontest.Options{
		OnAnswered: func(_ string, accepted bool) {
			if !accepted {
				arrived <- struct{}{}
				<-release
			}
		},
	}, nil)
	if _, err := c.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.ExpireTokens()

	errs := make(chan error, callers)
	for range callers {
		go func() {
			_, err := c.ExportForm(context.Background(), ExportRequest{TemplateCode: "HR1"})
			errs <- err
		}()
	}
	for range callers {
		<-arrived
	}
	close(release)
	for range callers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := srv.Logins(); got != 2 {
		t.Errorf("logins = %d, want 2: one at start, one refresh shared by %d callers", got, callers)
	}
	if got := srv.Requests(seeyontest.FormExportPath); got != 2*callers {
		t.Errorf("export requests = %d, want %d", got, 2*callers)
	}
}

func TestInvalidTokenInLargeBodyIsData(t *testing.T) {
	t.Parallel()
	srv, c := setup(t, seeyontest.Options{}, nil)
	big := `{"code":0,"note":"` + strings.Repeat("x", invalidTokenScanLimit) + ` Invalid token"}`
	srv.Handle("/seeyon/rest/big", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, big) })
	resp, err := c.Do(t.Context(), http.MethodGet, "/seeyon/rest/big", nil)
	if err != nil || string(resp.Body) != big {
		t.Fatalf("Do = %v, %v", resp, err)
	}
	if got := srv.Logins(); got != 1 {
		t.Errorf("logins = %d, want 1", got)
	}
}

func TestExportRequestBody(t *testing.T) {
	t.Parallel()
	srv, c := setup(t, seeyontest.Options{}, nil)
	resp, err := c.ExportForm(t.Context(), ExportRequest{
		TemplateCode:  "HR1",
		RightID:       "1234567890123456789.9876543210987654321",
		BeginDateTime: "2020-01-01",
		EndDateTime:   "2099-12-31",
		Page:          2,
		PageSize:      500,
		Extra:         map[string]any{"templateCode": "IGNORED", "doTrigger": "false"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.ContentType != "application/json;charset=UTF-8" || resp.ContentLength != int64(len(resp.Body)) {
		t.Errorf("meta = %q, %d (body %d bytes)", resp.ContentType, resp.ContentLength, len(resp.Body))
	}
	got := srv.Exports()
	want := []map[string]any{{
		"templateCode":  "HR1",
		"rightId":       "1234567890123456789.9876543210987654321",
		"beginDateTime": "2020-01-01",
		"endDateTime":   "2099-12-31",
		"page":          float64(2),
		"pageSize":      float64(500),
		"doTrigger":     "false",
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("export bodies = %v, want %v", got, want)
	}

	// Optional keys are left out.
	if _, err := c.ExportForm(t.Context(), ExportRequest{TemplateCode: "HR1"}); err != nil {
		t.Fatal(err)
	}
	if got := srv.Exports()[1]; !reflect.DeepEqual(got, map[string]any{"templateCode": "HR1"}) {
		t.Errorf("minimal export body = %v", got)
	}
}

func TestExportRequestValidation(t *testing.T) {
	t.Parallel()
	srv, c := setup(t, seeyontest.Options{}, nil)
	for _, req := range []ExportRequest{{}, {TemplateCode: " "}, {TemplateCode: "HR1", Page: -1}} {
		if _, err := c.ExportForm(t.Context(), req); err == nil {
			t.Errorf("ExportForm(%+v) succeeded", req)
		}
	}
	if srv.Logins() != 0 {
		t.Error("an invalid request reached the server")
	}
}

func TestDoErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		cfg     func(*Config)
		ctx     func(context.Context) (context.Context, context.CancelFunc)
		check   func(t *testing.T, err error)
	}{
		{
			name: "server error with the password echoed",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "boom for "+seeyontest.DefaultPassword, http.StatusInternalServerError)
			},
			check: func(t *testing.T, err error) {
				var httpErr *HTTPError
				if !errors.As(err, &httpErr) || httpErr.StatusCode != 500 {
					t.Fatalf("err = %v, want an HTTP 500 error", err)
				}
				want := "seeyon: GET /seeyon/rest/fail: HTTP 500 Internal Server Error: boom for ******"
				if err.Error() != want {
					t.Errorf("err = %q, want %q", err, want)
				}
			},
		},
		{
			name: "timeout",
			handler: func(_ http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
			},
			cfg: func(c *Config) { c.Timeout = 50 * time.Millisecond },
			check: func(t *testing.T, err error) {
				if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "seeyon: GET /seeyon/rest/fail") {
					t.Fatalf("err = %v, want a deadline error naming the call", err)
				}
			},
		},
		{
			name:    "body too large",
			handler: func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, strings.Repeat("x", 100)) },
			cfg:     func(c *Config) { c.MaxBodyBytes = 99 },
			check: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "larger than 99 bytes") {
					t.Fatalf("err = %v, want a size error", err)
				}
			},
		},
		{
			name:    "cancelled",
			handler: func(w http.ResponseWriter, _ *http.Request) {},
			ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(ctx)
				cancel()
				return ctx, cancel
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("err = %v, want context.Canceled", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t, seeyontest.Options{}, tt.cfg)
			srv.Handle("/seeyon/rest/fail", tt.handler)
			// Log in first, so that the case is about the call.
			if _, err := c.Token(t.Context()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			if tt.ctx != nil {
				ctx, cancel = tt.ctx(t.Context())
			}
			defer cancel()
			_, err := c.Do(ctx, http.MethodGet, "/seeyon/rest/fail", nil)
			tt.check(t, err)
		})
	}
}

func TestDoRejectsBadInput(t *testing.T) {
	t.Parallel()
	_, c := setup(t, seeyontest.Options{}, nil)
	if _, err := c.Do(t.Context(), http.MethodGet, "seeyon/rest/x", nil); err == nil {
		t.Error("a relative path was accepted")
	}
	if _, err := c.Do(t.Context(), http.MethodPost, "/seeyon/rest/x", func() {}); err == nil {
		t.Error("an unencodable body was accepted")
	}
}
