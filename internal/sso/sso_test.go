package sso

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

func TestMapRoleHighestWins(t *testing.T) {
	t.Parallel()
	c, err := New(Config{Issuer: "https://sso.example.com", ClientID: "hub", RedirectURL: "https://hub.example.com/cb",
		Key: []byte("0123456789abcdef"), RoleMap: map[string]connecthub.Role{"ops-admins": connecthub.RoleAdmin, "ops": connecthub.RoleOperator,
			"readers": connecthub.RoleViewer}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		groups []string
		want   connecthub.Role
	}{
		{nil, connecthub.RoleViewer},
		{[]string{"staff"}, connecthub.RoleViewer},
		{[]string{"ops"}, connecthub.RoleOperator},
		{[]string{"ops-admins", "ops"}, connecthub.RoleAdmin},
		{[]string{"ops", "ops-admins", "readers"}, connecthub.RoleAdmin},
		{[]string{"OPS"}, connecthub.RoleViewer}, // values are exact
	} {
		if got := c.mapRole(tc.groups); got != tc.want {
			t.Errorf("mapRole(%q) = %s, want %s", tc.groups, got, tc.want)
		}
	}
}

func TestRoleClaimShapes(t *testing.T) {
	t.Parallel()
	var claims map[string]any
	if err := json.Unmarshal([]byte(`{"groups":["a","b",3],"role":"ops","realm_access":{"roles":["x"]},
		"resource.roles":"dotted name","nested":{"deeper":{"list":["y","z"]}}}`), &claims); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want []string
		ok   bool
	}{
		{"groups", []string{"a", "b"}, true},
		{"role", []string{"ops"}, true},
		{"realm_access.roles", []string{"x"}, true},
		{"resource.roles", []string{"dotted name"}, true},
		{"nested.deeper.list", []string{"y", "z"}, true},
		{"missing", nil, false},
		{"role.sub", nil, false},
	} {
		v, ok := lookup(claims, tc.name)
		if got := claimStrings(v); ok != tc.ok || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("claim %s = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFlowCookieRefusesForgeriesAndOldAge(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef-key")
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	f, err := newFlow("/admin/jobs", now.Add(flowTTL))
	if err != nil {
		t.Fatal(err)
	}
	sealed := f.seal(key)
	got, err := openFlow(sealed, key, now)
	if err != nil || *got != *f {
		t.Fatalf("openFlow = %+v, %v; want %+v", got, err, f)
	}
	payload, sig, _ := strings.Cut(sealed, ".")
	other := *f
	other.Next = "https://evil.example.com/"
	for name, value := range map[string]string{
		"another key":     f.seal([]byte("another key of 16+ bytes")),
		"altered payload": strings.SplitN(other.seal(key), ".", 2)[0] + "." + sig,
		"no signature":    payload,
		"garbage":         "not a cookie",
	} {
		if _, err := openFlow(value, key, now); err == nil {
			t.Errorf("%s: openFlow accepted it", name)
		}
	}
	if _, err := openFlow(sealed, key, now.Add(flowTTL+time.Second)); err == nil {
		t.Error("openFlow accepted a flow older than its lifetime")
	}
	if g, _ := newFlow("", now); g.State == f.State || g.Nonce == f.Nonce || g.Verifier == f.Verifier {
		t.Error("two flows share a secret")
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	good := Config{Issuer: "https://sso.example.com", ClientID: "hub", RedirectURL: "https://hub.example.com/cb", Key: []byte("0123456789abcdef")}
	for name, change := range map[string]func(c *Config){
		"no issuer":    func(c *Config) { c.Issuer = "" },
		"no client":    func(c *Config) { c.ClientID = "" },
		"no redirect":  func(c *Config) { c.RedirectURL = "" },
		"short key":    func(c *Config) { c.Key = []byte("short") },
		"unknown role": func(c *Config) { c.RoleMap = map[string]connecthub.Role{"ops": "root"} },
		"default role": func(c *Config) { c.DefaultRole = "root" },
	} {
		c := good
		change(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	c, err := New(Config{Issuer: good.Issuer, ClientID: "hub", RedirectURL: good.RedirectURL, Key: good.Key, Scopes: []string{"email"}})
	if err != nil || c.cfg.Scopes[0] != "openid" || c.cfg.RoleClaim != "groups" || c.cfg.DefaultRole != connecthub.RoleViewer {
		t.Errorf("New's defaults: %+v, %v", c, err)
	}
}
