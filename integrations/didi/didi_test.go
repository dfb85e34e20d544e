package didi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connecthub/connecthub/integrations/didi/diditest"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/testenv"
)

// newClock is the settable time source shared by a client and a fake.
func newClock() *clock.Fake { return testenv.ClockAt(time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)) }

// testConfig returns a client config matching the fake's defaults.
func testConfig(baseURL string) Config {
	return Config{
		BaseURL:      baseURL,
		ClientID:     diditest.DefaultClientID,
		ClientSecret: diditest.DefaultClientSecret,
		SignKey:      diditest.DefaultSignKey,
		Phone:        diditest.DefaultPhone,
		CompanyID:    diditest.DefaultCompanyID,
		Timeout:      10 * time.Second,
	}
}

// setup starts a fake with two legal entities and two members and returns a
// client of it.
func setup(t *testing.T, opts diditest.Options, mutate func(*Config)) (*diditest.Server, *Client) {
	t.Helper()
	srv := diditest.NewServer(t, opts)
	srv.AddLegalEntity("LE1", "上海甲科技有限公司", "SH01")
	srv.AddLegalEntity("LE2", "北京乙信息技术有限公司", "")
	srv.AddMember(diditest.Member{ID: "M1", EmployeeNumber: "E001", Name: "张三", Phone: "13900000001", LegalEntityID: "LE1"})
	srv.AddMember(diditest.Member{ID: "M2", EmployeeNumber: "E002", Name: "李四", LegalEntityID: "LE1"})
	cfg := testConfig(srv.URL)
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
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{name: "good"},
		{name: "default base URL", mutate: func(c *Config) { c.BaseURL = "" }},
		{name: "bad base URL", mutate: func(c *Config) { c.BaseURL = "api.es.xiaojukeji.com" }, wantErr: "must be an http:// or https:// URL"},
		{name: "base URL with a query", mutate: func(c *Config) { c.BaseURL = "https://h/?a=1" }, wantErr: "no query"},
		{name: "no client id", mutate: func(c *Config) { c.ClientID = "" }, wantErr: "client id is required"},
		{name: "no client secret", mutate: func(c *Config) { c.ClientSecret = " " }, wantErr: "client secret is required"},
		{name: "no sign key", mutate: func(c *Config) { c.SignKey = "" }, wantErr: "sign key is required"},
		{name: "no phone", mutate: func(c *Config) { c.Phone = "" }, wantErr: "phone is required"},
		{name: "no company", mutate: func(c *Config) { c.CompanyID = "" }, wantErr: "company id is required"},
		{name: "negative timeout", mutate: func(c *Config) { c.Timeout = -1 }, wantErr: "timeout must not be negative"},
		{name: "negative skew", mutate: func(c *Config) { c.TokenSkew = -1 }, wantErr: "skew must not be negative"},
		{name: "negative body limit", mutate: func(c *Config) { c.MaxBodyBytes = -1 }, wantErr: "body limit must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig("https://api.example.com")
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

// TestTokenCachedUntilExpiryMinusSkew shares one clock between the client
// and the fake and checks when the client authorizes again: never with a
// token the fake would already refuse.
func TestTokenCachedUntilExpiryMinusSkew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		ttl       time.Duration
		skew      time.Duration // zero: the default 60s
		advance   time.Duration
		wantAuths int
	}{
		{name: "well before expiry", ttl: 30 * time.Minute, advance: 20 * time.Minute, wantAuths: 1},
		{name: "just inside the skew", ttl: 30 * time.Minute, advance: 29*time.Minute - time.Second, wantAuths: 1},
		{name: "at expiry minus skew", ttl: 30 * time.Minute, advance: 29 * time.Minute, wantAuths: 2},
		{name: "after expiry", ttl: 30 * time.Minute, advance: 31 * time.Minute, wantAuths: 2},
		{name: "custom skew", ttl: 30 * time.Minute, skew: 5 * time.Minute, advance: 25 * time.Minute, wantAuths: 2},
		{name: "short lifetime uses half", ttl: 100 * time.Second, advance: 49 * time.Second, wantAuths: 1},
		{name: "short lifetime renewed at half", ttl: 100 * time.Second, advance: 50 * time.Second, wantAuths: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			srv, c := setup(t, diditest.Options{TokenTTL: tt.ttl, Now: clk.Now}, func(cfg *Config) {
				cfg.Now = clk.Now
				cfg.TokenSkew = tt.skew
			})
			first, err := c.Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.MemberDetail(t.Context(), MemberQuery{EmployeeNumber: "E001"}); err != nil {
				t.Fatal(err)
			}
			clk.Advance(tt.advance)
			if _, err := c.MemberDetail(t.Context(), MemberQuery{EmployeeNumber: "E001"}); err != nil {
				t.Fatal(err)
			}
			if got := srv.Authorizations(); got != tt.wantAuths {
				t.Errorf("authorizations = %d, want %d", got, tt.wantAuths)
			}
			if got := srv.Requests(diditest.MemberDetailPath); got != 2 {
				t.Errorf("detail requests = %d, want 2 (no 401 and retry)", got)
			}
			tok, _ := c.Token(t.Context())
			if (tok != first) != (tt.wantAuths == 2) {
				t.Errorf("token changed = %v, want %v", tok != first, tt.wantAuths == 2)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	c, err := New(testConfig("https://api.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		lifetime time.Duration
		want     time.Time
	}{
		{0, time.Time{}},
		{1800 * time.Second, start.Add(1740 * time.Second)},
		{121 * time.Second, start.Add(61 * time.Second)},
		{120 * time.Second, start.Add(60 * time.Second)},
		{10 * time.Second, start.Add(5 * time.Second)},
	}
	for _, tt := range tests {
		if got := c.expiry(start, tt.lifetime); !got.Equal(tt.want) {
			t.Errorf("expiry(%v) = %v, want %v", tt.lifetime, got, tt.want)
		}
	}
}

// Test401RetriesOnce covers a revoked token (one re-authorization and one
// retry succeed) and a service that keeps refusing (the second 401 is
// returned: no third attempt).
func Test401RetriesOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		always bool
	}{
		{name: "401 then success"},
		{name: "401 twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t, diditest.Options{}, nil)
			first, err := c.Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			srv.RevokeTokens()
			srv.RejectAllTokens(tt.always)
			list, err := c.LegalEntityGet(t.Context(), nil)
			if got := srv.Authorizations(); got != 2 {
				t.Errorf("authorizations = %d, want 2", got)
			}
			if got := srv.Requests(diditest.LegalEntityGetPath); got != 2 {
				t.Errorf("requests = %d, want 2", got)
			}
			if tt.always {
				var authErr *AuthError
				var httpErr *HTTPError
				if !errors.As(err, &authErr) || !errors.As(err, &httpErr) || httpErr.StatusCode != 401 {
					t.Fatalf("err = %v, want an *AuthError with HTTP 401", err)
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, "didi: GET /river/LegalEntity/get: HTTP 401") || strings.Contains(msg, first) {
					t.Errorf("error %q must name the call and status and not the token", msg)
				}
				// The next call starts with a fresh authorization.
				srv.RejectAllTokens(false)
				if _, err := c.LegalEntityGet(t.Context(), nil); err != nil {
					t.Fatal(err)
				}
				if got := srv.Authorizations(); got != 3 {
					t.Errorf("authorizations after recovery = %d, want 3", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if list.Total != 2 {
				t.Errorf("total = %d, want 2", list.Total)
			}
		})
	}
}

// TestConcurrent401sShareOneAuthorization holds every 401 back until all
// callers' requests have arrived, then lets them go at once.
func TestConcurrent401sShareOneAuthorization(t *testing.T) {
	t.Parallel()
	const callers = 8
	arrived := make(chan struct{}, callers)
	release := make(chan struct{})
	srv, c := setup(t, diditest.Options{OnUnauthorized: func(string) {
		arrived <- struct{}{}
		<-release
	}}, nil)
	if _, err := c.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.RevokeTokens()
	errs := make(chan error, callers)
	for range callers {
		go func() {
			_, err := c.MemberDetail(context.Background(), MemberQuery{MemberID: "M1"})
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
	if got := srv.Authorizations(); got != 2 {
		t.Errorf("authorizations = %d, want 2: one at start, one shared by %d callers", got, callers)
	}
}

func TestConcurrentFirstCallsShareOneAuthorization(t *testing.T) {
	t.Parallel()
	srv, c := setup(t, diditest.Options{}, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := c.MemberDetail(context.Background(), MemberQuery{MemberID: "M2"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := srv.Authorizations(); got != 1 {
		t.Errorf("authorizations = %d, want 1", got)
	}
}

func TestAuthorizationFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		mutate    func(*Config)
		wantErrno int64
	}{
		{name: "wrong sign key", mutate: func(c *Config) { c.SignKey = "not-the-key" }, wantErrno: diditest.ErrnoBadSign},
		{name: "wrong secret", mutate: func(c *Config) { c.ClientSecret = "wrong-secret" }, wantErrno: diditest.ErrnoBadCredentials},
		{name: "wrong phone", mutate: func(c *Config) { c.Phone = "13999999999" }, wantErrno: diditest.ErrnoBadCredentials},
		{name: "wrong grant", mutate: func(c *Config) { c.GrantType = "password" }, wantErrno: diditest.ErrnoBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t, diditest.Options{}, tt.mutate)
			_, err := c.MemberDetail(t.Context(), MemberQuery{MemberID: "M1"})
			var authErr *AuthError
			var apiErr *APIError
			if !errors.As(err, &authErr) || !errors.As(err, &apiErr) || apiErr.Errno != tt.wantErrno {
				t.Fatalf("err = %v, want an *AuthError with errno %d", err, tt.wantErrno)
			}
			if !strings.HasPrefix(err.Error(), "didi: POST /river/Auth/authorize: errno ") {
				t.Errorf("error %q does not name the authorize call", err)
			}
			for _, secret := range []string{"not-the-key", "wrong-secret", "13999999999", diditest.DefaultClientSecret, diditest.DefaultSignKey} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q leaks %q", err, secret)
				}
			}
			if srv.Requests(diditest.MemberDetailPath) != 0 {
				t.Error("the call was sent without a token")
			}
		})
	}
}

func TestMemberCalls(t *testing.T) {
	t.Parallel()
	srv, c := setup(t, diditest.Options{}, nil)

	for _, q := range []MemberQuery{{MemberID: "M1"}, {EmployeeNumber: "E001"}, {Phone: "13900000001"}} {
		m, err := c.MemberDetail(t.Context(), q)
		if err != nil {
			t.Fatalf("MemberDetail(%+v): %v", q, err)
		}
		if m.ID != "M1" || m.EmployeeNumber != "E001" || m.Name != "张三" || m.LegalEntityID != "LE1" || len(m.Raw) == 0 {
			t.Errorf("MemberDetail(%+v) = %+v", q, m)
		}
	}

	_, err := c.MemberDetail(t.Context(), MemberQuery{EmployeeNumber: "E404"})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Errno != diditest.ErrnoMemberNotFound || apiErr.Errmsg != "员工不存在" {
		t.Fatalf("unknown member: err = %v, want errno %d", err, diditest.ErrnoMemberNotFound)
	}
	if want := "didi: GET /river/Member/detail: errno 50202: 员工不存在"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}

	if err := c.MemberEdit(t.Context(), "M2", map[string]any{"legal_entity_id": "LE2"}); err != nil {
		t.Fatal(err)
	}
	if m, _ := srv.Member("M2"); m.LegalEntityID != "LE2" {
		t.Errorf("after the edit the member's entity is %q, want LE2", m.LegalEntityID)
	}
	edits := srv.Edits()
	if len(edits) != 1 || !reflect.DeepEqual(edits[0].Fields, map[string]any{"legal_entity_id": "LE2"}) {
		t.Errorf("edits = %+v", edits)
	}

	err = c.MemberEdit(t.Context(), "M2", map[string]any{"legal_entity_id": "LE9"})
	if !errors.As(err, &apiErr) || apiErr.Errno != diditest.ErrnoLegalEntityUnknown {
		t.Errorf("edit to an unknown entity: err = %v", err)
	}
}

func TestLegalEntityGet(t *testing.T) {
	t.Parallel()
	srv, c := setup(t, diditest.Options{}, nil)
	tests := []struct {
		params    map[string]string
		wantTotal int
		wantIDs   []string
	}{
		{params: nil, wantTotal: 2, wantIDs: []string{"LE1", "LE2"}},
		{params: map[string]string{"name": "上海甲科技有限公司"}, wantTotal: 1, wantIDs: []string{"LE1"}},
		{params: map[string]string{"name": "有限公司", "offset": "1", "length": "1"}, wantTotal: 2, wantIDs: []string{"LE2"}},
		{params: map[string]string{"name": "丙"}, wantTotal: 0, wantIDs: nil},
	}
	for _, tt := range tests {
		list, err := c.LegalEntityGet(t.Context(), tt.params)
		if err != nil {
			t.Fatalf("LegalEntityGet(%v): %v", tt.params, err)
		}
		var ids []string
		for _, e := range list.Records {
			ids = append(ids, e.ID)
		}
		if list.Total != tt.wantTotal || !reflect.DeepEqual(ids, tt.wantIDs) {
			t.Errorf("LegalEntityGet(%v) = %d %v, want %d %v", tt.params, list.Total, ids, tt.wantTotal, tt.wantIDs)
		}
	}
	if got := srv.LegalEntityQueries(); !reflect.DeepEqual(got, []string{"", "上海甲科技有限公司", "有限公司", "丙"}) {
		t.Errorf("queries = %q", got)
	}
	list, _ := c.LegalEntityGet(t.Context(), map[string]string{"name": "上海"})
	if len(list.Records) != 1 || list.Records[0] != (LegalEntity{ID: "LE1", Name: "上海甲科技有限公司", OutLegalEntityID: "SH01"}) {
		t.Errorf("records = %+v", list.Records)
	}
}

func TestBadArguments(t *testing.T) {
	t.Parallel()
	srv, c := setup(t, diditest.Options{}, nil)
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"no member query", func() error { _, err := c.MemberDetail(t.Context(), MemberQuery{}); return err }, "set exactly one"},
		{"two member queries", func() error {
			_, err := c.MemberDetail(t.Context(), MemberQuery{MemberID: "M1", Phone: "1"})
			return err
		}, "set exactly one"},
		{"edit without member", func() error { return c.MemberEdit(t.Context(), " ", map[string]any{"a": 1}) }, "member id is required"},
		{"edit without fields", func() error { return c.MemberEdit(t.Context(), "M1", nil) }, "no fields to change"},
		{"edit unencodable", func() error { return c.MemberEdit(t.Context(), "M1", map[string]any{"a": func() {}}) }, "encoding the fields"},
		{"bad method", func() error { return c.Call(t.Context(), http.MethodPut, "/river/x", nil, nil) }, "only GET and POST"},
		{"bad path", func() error { return c.Call(t.Context(), http.MethodGet, "river/x", nil, nil) }, "must start with /"},
	}
	for _, tt := range tests {
		if err := tt.call(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
	if srv.Authorizations() != 0 {
		t.Error("a bad argument reached the server")
	}
}

// oddServer serves authorize normally and answers every other path with h,
// for answers the fake never gives.
func oddServer(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == AuthorizePath {
			fmt.Fprint(w, `{"access_token":"odd-token-123","expires_in":1800}`)
			return
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg := testConfig(srv.URL)
	cfg.Timeout = 5 * time.Second
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAnswerErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		h       http.HandlerFunc
		timeout time.Duration
		want    string // the whole message, or a prefix when it ends with "…"
		check   func(t *testing.T, err error)
	}{
		{
			name: "server error echoing the request",
			h: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "failed: "+r.URL.RawQuery, http.StatusBadGateway)
			},
			check: func(t *testing.T, err error) {
				var httpErr *HTTPError
				if !errors.As(err, &httpErr) || httpErr.StatusCode != http.StatusBadGateway {
					t.Fatalf("err = %v, want HTTP 502", err)
				}
				if strings.Contains(err.Error(), "odd-token-123") || !strings.Contains(err.Error(), "access_token=******") {
					t.Errorf("error %q does not mask the token", err)
				}
			},
		},
		{
			name: "not JSON",
			h:    func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "<html>gateway</html>") },
			want: "didi: GET /river/Member/detail: HTTP 200 OK: the answer is not a JSON envelope: <html>gateway</html>",
		},
		{
			name: "no errno",
			h:    func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"data":{}}`) },
			want: `didi: GET /river/Member/detail: HTTP 200 OK: the answer has no numeric "errno": {"data":{}}`,
		},
		{
			name: "errno as a string",
			h:    func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"errno":"50001","errmsg":"busy"}`) },
			want: "didi: GET /river/Member/detail: errno 50001: busy",
		},
		{
			name: "data of the wrong type",
			h:    func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"errno":0,"data":[1]}`) },
			want: "didi: GET /river/Member/detail: decoding the answer's data: …",
		},
		{
			name: "no member in data",
			h:    func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"errno":0,"data":null}`) },
			want: "didi: GET /river/Member/detail: the answer has no member",
		},
		{
			name:    "timeout",
			h:       func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
			timeout: 50 * time.Millisecond,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "didi: GET /river/Member/detail: ") {
					t.Fatalf("err = %v, want a deadline error naming the call", err)
				}
				if strings.Contains(err.Error(), "odd-token-123") {
					t.Errorf("error %q leaks the token", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := oddServer(t, tt.h)
			if tt.timeout > 0 {
				c.timeout = tt.timeout
			}
			_, err := c.MemberDetail(t.Context(), MemberQuery{MemberID: "M1"})
			if tt.check != nil {
				tt.check(t, err)
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if prefix, ok := strings.CutSuffix(tt.want, "…"); ok {
				if !strings.HasPrefix(err.Error(), prefix) {
					t.Errorf("err = %q, want a prefix %q", err, prefix)
				}
			} else if err.Error() != tt.want {
				t.Errorf("err = %q, want %q", err, tt.want)
			}
		})
	}
}

func TestCancelledWhileWaitingForToken(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		fmt.Fprint(w, `{"access_token":"t","expires_in":1800}`)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c, err := New(testConfig(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = c.MemberDetail(ctx, MemberQuery{MemberID: "M1"})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "didi: GET /river/Member/detail: waiting for an access token") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseAuthorize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body      string
		wantToken string
		wantLife  time.Duration
		wantErr   string
	}{
		{body: `{"access_token":"a1","expires_in":1800,"token_type":"Bearer"}`, wantToken: "a1", wantLife: 1800 * time.Second},
		{body: `{"errno":0,"errmsg":"SUCCESS","data":{"access_token":"a2","expires_in":"7200"}}`, wantToken: "a2", wantLife: 7200 * time.Second},
		{body: `{"access_token":"a3"}`, wantToken: "a3"},
		{body: `{"access_token":"a4","expires_in":null}`, wantToken: "a4"},
		{body: `{"errno":40002,"errmsg":"invalid client"}`, wantErr: "errno 40002: invalid client"},
		{body: `{"errno":0,"data":{}}`, wantErr: "no access_token"},
		{body: `{"errno":0,"data":{"access_token":1}}`, wantErr: `"data" is not a grant`},
		{body: `{"access_token":"a5","expires_in":"soon"}`, wantErr: "expires_in is not a number"},
		{body: `{"access_token":"a5","expires_in":-5}`, wantErr: "expires_in is not a number"},
		{body: `oops`, wantErr: "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			t.Parallel()
			tok, life, err := parseAuthorize([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || tok != tt.wantToken || life != tt.wantLife {
				t.Fatalf("parseAuthorize = %q, %v, %v; want %q, %v", tok, life, err, tt.wantToken, tt.wantLife)
			}
		})
	}
}

func TestUnmarshalLenient(t *testing.T) {
	t.Parallel()
	var m Member
	if err := m.UnmarshalJSON([]byte(`{"id":1125900000000123,"employee_number":"E1","name":"王五","legal_entity_id":9007199254740993}`)); err != nil {
		t.Fatal(err)
	}
	if m.ID != "1125900000000123" || m.Name != "王五" || m.LegalEntityID != "9007199254740993" {
		t.Errorf("member = %+v (large ids must keep every digit)", m)
	}
	var l LegalEntityList
	if err := l.UnmarshalJSON([]byte(`[{"id":"L1","name":"甲"}]`)); err != nil {
		t.Fatal(err)
	}
	if l.Total != 1 || l.Records[0].ID != "L1" {
		t.Errorf("list = %+v", l)
	}
	if err := l.UnmarshalJSON([]byte(`{"records":[{"legal_entity_id":7,"name":"乙"}]}`)); err != nil {
		t.Fatal(err)
	}
	if l.Total != 1 || l.Records[0].ID != "7" {
		t.Errorf("list = %+v", l)
	}
}
