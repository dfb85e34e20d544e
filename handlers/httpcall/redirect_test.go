package httpcall

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handler/handlertest"
)

// callWith runs the handler with config on a client of s and the policy e;
// "%s" in config stands for the URL of s.
func callWith(t *testing.T, s *server, e *Egress, config string) (*handler.Result, *handlertest.Recorder, error) {
	t.Helper()
	task, rec := handlertest.NewTask(strings.ReplaceAll(config, "%s", s.URL), secrets)
	res, err := SpecWithOptions(Options{Client: s.Client(), Egress: e}).Func(context.Background(), task)
	return res, rec, err
}

// redirectTo returns a handler that redirects every request for "/" to
// target with code, and answers 200 on other paths.
func redirectTo(target func() string, code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			w.Header().Set("Location", target())
			w.WriteHeader(code)
			return
		}
		w.Write([]byte("landed"))
	}
}

// TestRedirectsDoNotCarrySecretsToAnotherHost reproduces the leaks of a
// redirect to another host (two test servers on 127.0.0.1 are two origins,
// by port): a custom header built from a secret forwarded there, a Referer
// holding the secret of the query, and a 307 re-sending a body that holds a
// secret. Each either does not follow the redirect or follows it without the
// secret.
func TestRedirectsDoNotCarrySecretsToAnotherHost(t *testing.T) {
	t.Parallel()
	const headers = `"headers": {"X-Api-Key": "{{secret.API_KEY}}", "X-{{secret.HDR}}": "named by a secret", "X-Plain": "ok"}`
	tests := []struct {
		name    string
		follow  string // "" = the default
		code    int
		method  string
		body    string
		sameDst bool // redirect to another path of the first server

		wantErr     string // the run fails with this; "" = success
		wantReached bool   // the redirect's target got a request
		wantBody    string // the body the target got
	}{
		{name: "default refuses another host", code: http.StatusFound, wantErr: "the redirect to http://127.0.0.1:"},
		{name: "same_host refuses a 307 to another host", follow: FollowSameHost, code: http.StatusTemporaryRedirect,
			method: "POST", body: `"key={{secret.API_KEY}}"`, wantErr: `follow_redirects is "same_host"`},
		{name: "same_host follows the same host", code: http.StatusFound, sameDst: true, wantReached: true},
		{name: "none refuses the same host", follow: FollowNone, code: http.StatusFound, sameDst: true,
			wantErr: `unexpected status 302 (expected 2xx)`},
		{name: "any strips secret headers", follow: FollowAny, code: http.StatusFound, wantReached: true},
		{name: "any drops a 307 body holding a secret", follow: FollowAny, code: http.StatusTemporaryRedirect,
			method: "POST", body: `"key={{secret.API_KEY}}"`, wantReached: true, wantBody: ""},
		{name: "any drops a 308 JSON body holding a secret", follow: FollowAny, code: http.StatusPermanentRedirect,
			method: "PUT", body: `{"key": "{{secret.TOKEN}}"}`, wantReached: true, wantBody: ""},
		{name: "any keeps a 307 body without a secret", follow: FollowAny, code: http.StatusTemporaryRedirect,
			method: "POST", body: `"plain"`, wantReached: true, wantBody: "plain"},
		{name: "any keeps everything on the same host", follow: FollowAny, code: http.StatusTemporaryRedirect,
			method: "POST", body: `"key={{secret.API_KEY}}"`, sameDst: true, wantReached: true, wantBody: "key=" + secrets["API_KEY"]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			other := newServer(t, nil)
			var first *server
			first = newServer(t, redirectTo(func() string {
				if tt.sameDst {
					return first.URL + "/next"
				}
				return other.URL + "/next"
			}, tt.code))
			dst := other
			if tt.sameDst {
				dst = first
			}
			config := `{"url": "%s/?t={{secret.TOKEN}}", ` + headers
			if tt.method != "" {
				config += `, "method": "` + tt.method + `"`
			}
			if tt.body != "" {
				config += `, "body": ` + tt.body
			}
			if tt.follow != "" {
				config += `, "follow_redirects": "` + tt.follow + `"`
			}
			config += "}"

			_, rec, err := callWith(t, first, DefaultEgress(), config)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if err != nil {
				assertNoSecrets(t, "error", err.Error())
			}
			assertLogClean(t, rec)

			var reached []seen
			for _, r := range dst.requests() {
				if r.Path == "/next" {
					reached = append(reached, r)
				}
			}
			if !tt.wantReached {
				if len(reached) != 0 {
					t.Fatalf("the redirect was followed: %+v", reached)
				}
				return
			}
			if len(reached) != 1 {
				t.Fatalf("the target got %d requests, want 1", len(reached))
			}
			got := reached[0]
			if tt.body != "" && got.Body != tt.wantBody {
				t.Errorf("the target got body %q, want %q", got.Body, tt.wantBody)
			}
			if tt.sameDst {
				if got.Header.Get("X-Api-Key") != secrets["API_KEY"] {
					t.Errorf("a redirect to the same host lost the secret header: %v", got.Header)
				}
				return
			}
			if got.Header.Get("X-Plain") != "ok" {
				t.Errorf("a header without a secret was dropped: %v", got.Header)
			}
			for name, values := range got.Header {
				assertNoSecrets(t, "header "+name+" sent to another host", name+": "+strings.Join(values, ", "))
			}
		})
	}
}

func TestTooManyRedirects(t *testing.T) {
	t.Parallel()
	var s *server
	s = newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, s.URL+"/again", http.StatusFound)
	})
	_, _, err := callWith(t, s, DefaultEgress(), `{"url": "%s/"}`)
	if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Fatalf("err = %v, want it to stop after 10 redirects", err)
	}
	if n := len(s.requests()); n != 10 {
		t.Errorf("%d requests, want 10", n)
	}
}

func TestBadFollowRedirects(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	_, _, err := callWith(t, s, DefaultEgress(), `{"url": "%s/", "follow_redirects": "sometimes"}`)
	if err == nil || !handler.IsPermanent(err) || !strings.Contains(err.Error(), `follow_redirects "sometimes"`) {
		t.Fatalf("err = %v, want a permanent configuration error", err)
	}
	if len(s.requests()) != 0 {
		t.Error("a bad config made a request")
	}
}

func mustEgress(t *testing.T, deny, allow []string) *Egress {
	t.Helper()
	e, err := ParseEgress(deny, allow)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestEgressPolicy calls a test server on 127.0.0.1 under several policies.
func TestEgressPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		deny, allow []string
		url         string // "%s" is the server's URL
		wantDenied  string // the start of the refused address; "" = allowed
		resolved    bool   // refused only once the name is resolved: any address
	}{
		{name: "the default allows loopback", url: "%s/"},
		{name: "deny 127.0.0.0/8", deny: []string{"127.0.0.0/8"}, url: "%s/", wantDenied: "127.0.0.1"},
		{name: "deny one address", deny: []string{"10.0.0.0/8", "127.0.0.1"}, url: "%s/", wantDenied: "127.0.0.1"},
		{name: "deny none", deny: []string{"none"}, url: "%s/"},
		{name: "deny a host name", deny: []string{"localhost"}, url: "http://LOCALHOST.:{port}/", wantDenied: "localhost"},
		{name: "deny a domain", deny: []string{"*.localhost"}, url: "http://api.localhost:{port}/", wantDenied: "api.localhost"},
		{name: "deny after DNS resolution", deny: []string{"127.0.0.0/8", "::1"}, url: "http://localhost:{port}/", resolved: true},
		{name: "allow-list without the address", allow: []string{"10.0.0.0/8"}, url: "%s/", wantDenied: "127.0.0.1"},
		{name: "allow-list with the address", allow: []string{"127.0.0.0/8"}, url: "%s/"},
		{name: "allow-list by name, resolved address checked", allow: []string{"localhost"}, deny: []string{"127.0.0.0/8", "::1/128"},
			url: "http://localhost:{port}/", resolved: true},
		{name: "deny wins over allow", allow: []string{"127.0.0.1"}, deny: []string{"127.0.0.1"}, url: "%s/", wantDenied: "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, nil)
			_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
			e := mustEgress(t, tt.deny, tt.allow)
			_, _, err := callWith(t, s, e, `{"url": "`+strings.ReplaceAll(tt.url, "{port}", port)+`"}`)
			denied := tt.wantDenied != "" || tt.resolved
			if !denied {
				if err != nil {
					t.Fatalf("err = %v, want the call allowed", err)
				}
				return
			}
			if err == nil {
				t.Fatal("the call was allowed")
			}
			if !errors.Is(err, ErrEgressDenied) || !handler.IsPermanent(err) ||
				!strings.HasPrefix(err.Error(), "egress_denied: GET ") ||
				!strings.Contains(err.Error(), ": "+tt.wantDenied) {
				t.Errorf("err = %q, want a permanent egress_denied naming %q", err, tt.wantDenied)
			}
			if len(s.requests()) != 0 {
				t.Errorf("the server got a request")
			}
		})
	}
}

// TestEgressCheckedOnRedirects redirects from an allowed server to an
// address on the deny-list (127.0.0.2, also loopback on Linux): the hop is
// refused with egress_denied whatever follow_redirects says.
func TestEgressCheckedOnRedirects(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	denied := &server{Server: httptest.NewUnstartedServer(http.NotFoundHandler())}
	denied.Listener.Close()
	denied.Listener = ln
	denied.Start()
	t.Cleanup(denied.Close)

	s := newServer(t, redirectTo(func() string { return denied.URL + "/next" }, http.StatusFound))
	_, _, err = callWith(t, s, mustEgress(t, []string{"127.0.0.2/32"}, nil), `{"url": "%s/", "follow_redirects": "any"}`)
	if !errors.Is(err, ErrEgressDenied) || !strings.Contains(err.Error(), "127.0.0.2 is on the deny-list (127.0.0.2/32)") {
		t.Fatalf("err = %v, want egress_denied for 127.0.0.2", err)
	}
}

// TestDefaultEgressRefusesCloudMetadata needs no network: the metadata
// address is refused before a connection is attempted.
func TestDefaultEgressRefusesCloudMetadata(t *testing.T) {
	t.Parallel()
	for _, url := range []string{
		"http://169.254.169.254/latest/meta-data/",
		"http://[fd00:ec2::254]/latest/meta-data/",
		"http://[::ffff:169.254.169.254]/",
	} {
		task, _ := handlertest.NewTask(`{"url": "`+url+`"}`, nil)
		_, err := Spec().Func(context.Background(), task)
		if !errors.Is(err, ErrEgressDenied) {
			t.Errorf("%s: err = %v, want egress_denied", url, err)
		}
	}
}

func TestParseEgress(t *testing.T) {
	t.Parallel()
	good := [][]string{nil, {}, {"none"}, {" 10.0.0.0/8 ", "", "fd00::/8", "::1", "metadata.google.internal", ".internal", "*.corp.example."}}
	for _, list := range good {
		if _, err := ParseEgress(list, list); err != nil {
			t.Errorf("ParseEgress(%q) = %v", list, err)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "not a host", "http://x", "a..b", "*"} {
		_, err := ParseEgress([]string{bad}, nil)
		if err == nil || !strings.Contains(err.Error(), "deny-list") || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseEgress(%q) = %v, want an error naming the entry", bad, err)
		}
	}
	if e := DefaultEgress(); len(e.deny) != len(DefaultDeny) || e.allow != nil {
		t.Errorf("DefaultEgress = %+v", e)
	}
}
