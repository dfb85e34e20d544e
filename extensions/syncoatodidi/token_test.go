package syncoatodidi

import (
	"strings"
	"testing"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/integrations/seeyon/seeyontest"
)

func TestTokenHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		plain     bool
		loginName string
	}{
		{name: "JSON token"},
		{name: "plain-text token", plain: true},
		{name: "bound to a user", loginName: "zhangsan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			oa := seeyontest.NewServer(t, seeyontest.Options{PlainTextToken: tt.plain})
			task, rec := newTask(t, obj{"seeyon_base_url": oa.URL, "seeyon_login_name": tt.loginName}, oaSecrets())
			res, err := spec(t, TokenName).Func(t.Context(), task)
			if err != nil {
				t.Fatal(err)
			}
			tokens := oa.Tokens()
			if len(tokens) != 1 {
				t.Fatalf("the handler logged in %d times, want 1", len(tokens))
			}
			tok := tokens[0]
			if want := "Seeyon token obtained (" + tok[:4] + "…, 36 characters)"; res.Message != want {
				t.Errorf("message = %q, want %q", res.Message, want)
			}
			data := res.Data.(map[string]any)
			if data["token_prefix"] != tok[:4] || data["token_length"] != 36 || data["login_name"] != tt.loginName {
				t.Errorf("data = %v", data)
			}
			if strings.Contains(rec.text(), tok) || strings.Contains(res.Message, tok) {
				t.Error("the token was logged or returned")
			}
			if names := oa.LoginNames(); names[0] != tt.loginName {
				t.Errorf("login name sent = %q, want %q", names[0], tt.loginName)
			}
		})
	}
}

func TestTokenHandlerFailures(t *testing.T) {
	t.Parallel()
	oa := seeyontest.NewServer(t, seeyontest.Options{})
	wrong := oaSecrets()
	wrong[SecretRESTPassword] = "not-the-password"
	tests := []struct {
		name      string
		config    any
		secrets   map[string]string
		wantErr   string
		permanent bool
	}{
		{name: "wrong password", config: obj{"seeyon_base_url": oa.URL}, secrets: wrong,
			wantErr: "seeyon: POST /seeyon/rest/token: HTTP 401 Unauthorized: login failed", permanent: true},
		{name: "no base URL", config: obj{}, secrets: oaSecrets(), wantErr: "public_cfg.seeyon_base_url is required", permanent: true},
		{name: "bad base URL", config: obj{"seeyon_base_url": "oa.example.com"}, secrets: oaSecrets(),
			wantErr: `public_cfg.seeyon_base_url "oa.example.com" must be an http:// or https:// URL`, permanent: true},
		{name: "bad timeout", config: obj{"seeyon_base_url": oa.URL, "seeyon_timeout": "soon"}, secrets: oaSecrets(),
			wantErr: `public_cfg.seeyon_timeout "soon" is not a duration`, permanent: true},
		{name: "no password", config: obj{"seeyon_base_url": oa.URL}, secrets: map[string]string{SecretRESTUser: "rest"},
			wantErr: "secret_cfg.rest_password is required", permanent: true},
		{name: "unknown key", config: obj{"seeyon_base_url": oa.URL, "password": "x"}, secrets: oaSecrets(),
			wantErr: `public_cfg: unknown key "password"`, permanent: true},
		{name: "OA down", config: obj{"seeyon_base_url": "http://127.0.0.1:1"}, secrets: oaSecrets(),
			wantErr: "seeyon: POST /seeyon/rest/token: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			task, rec := newTask(t, tt.config, tt.secrets)
			_, err := spec(t, TokenName).Func(t.Context(), task)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
			if handler.IsPermanent(err) != tt.permanent {
				t.Errorf("permanent = %v, want %v", handler.IsPermanent(err), tt.permanent)
			}
			if strings.Contains(err.Error()+rec.text(), "not-the-password") {
				t.Error("the password leaked")
			}
		})
	}
}

func TestTokenPrefix(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"6e1d2f3a-5eee-4c0a-9d1b-000000000001": "6e1d",
		"abcdefgh":                             "ab",
		"abc":                                  "",
		"令牌令牌令牌令牌令牌令牌令牌令牌": "令牌令牌",
		"": "",
	}
	for tok, want := range tests {
		if got := tokenPrefix(tok); got != want {
			t.Errorf("tokenPrefix(%q) = %q, want %q", tok, got, want)
		}
	}
}

func TestNilTask(t *testing.T) {
	t.Parallel()
	for _, s := range Specs(Options{}) {
		if _, err := s.Func(t.Context(), nil); err == nil || !handler.IsPermanent(err) {
			t.Errorf("%s: nil task: err = %v, want a permanent error", s.Name, err)
		}
	}
}
