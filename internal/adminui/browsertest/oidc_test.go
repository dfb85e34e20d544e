package browsertest_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/connecthub/connecthub/internal/sso/ssotest"
)

// TestBrowserOIDC clicks "Sign in with Keycloak" on the login page (in
// Chinese and English) and goes through a local OpenID Connect provider:
// the person arrives on the dashboard as the user its account made, with
// the role its groups map to; an answer meant for another application is
// refused with the login page saying so.
func TestBrowserOIDC(t *testing.T) {
	chromium := findChromium(t)
	idp := ssotest.New(t, "connecthub", "browser-oidc-client-secret")
	// The public URL the issuer sends the browser back to must be known
	// before serve starts, and serve picks its port at start: a proxy in
	// front of it, as a load balancer would be, has the address first.
	var target atomic.Pointer[url.URL]
	lb := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target.Load())
		r.Out.Host = r.In.Host
	}})
	t.Cleanup(lb.Close)
	srv := startServeWith(t, map[string]string{
		"CONNECTHUB_PUBLIC_URL": lb.URL, "CONNECTHUB_OIDC_ISSUER": idp.URL, "CONNECTHUB_OIDC_CLIENT_ID": idp.ClientID,
		"CONNECTHUB_OIDC_CLIENT_SECRET": idp.ClientSecret, "CONNECTHUB_OIDC_ROLE_MAP": "ops=operator", "CONNECTHUB_OIDC_NAME": "Keycloak",
	})
	u, err := url.Parse(srv.url)
	if err != nil {
		t.Fatal(err)
	}
	target.Store(u)
	idp.SetLogin(ssotest.Login{Subject: "kc-42", Claims: map[string]any{"preferred_username": "han.meimei", "name": "韩梅梅", "groups": []string{"ops"}}})

	browser := newBrowser(t, chromium)
	ctx := tab(t, browser, 120*time.Second)
	run(t, ctx, "the button in Chinese",
		chromedp.Navigate(lb.URL+"/admin/lang?to=zh-CN&next=/admin/login"),
		waitUntil(`document.querySelector("#sso-sign-in") !== null && document.querySelector("#sso-sign-in").textContent.trim() === "使用 Keycloak 登录"`),
	)
	run(t, ctx, "sign in through the issuer",
		chromedp.Navigate(lb.URL+"/admin/lang?to=en&next=/admin/login"),
		waitUntil(`document.querySelector("#sso-sign-in") !== null && document.querySelector("#sso-sign-in").textContent.trim() === "Sign in with Keycloak"`),
		chromedp.Click(`#sso-sign-in`, chromedp.ByQuery),
		waitUntil(`location.pathname === "/admin/" && document.querySelector('form.logout a.user[data-role="operator"]') !== null &&
			document.querySelector("form.logout a.user").textContent.trim() === "han.meimei"`),
	)
	if code, b := srv.api(t, http.MethodGet, "/api/v1/users/han.meimei", ""); code != http.StatusOK {
		t.Fatalf("the signed-in user: %d %s", code, b)
	}

	idp.SetLogin(ssotest.Login{Subject: "kc-42", Audience: "another-app", Claims: map[string]any{"preferred_username": "han.meimei"}})
	run(t, ctx, "a token for another application is refused",
		chromedp.Click(`form.logout button`, chromedp.ByQuery),
		waitUntil(`location.pathname === "/admin/login" && document.querySelector("#sso-sign-in") !== null`),
		chromedp.Click(`#sso-sign-in`, chromedp.ByQuery),
		waitUntil(`location.pathname === "/admin/oidc/callback" && document.querySelector(".notice-error") !== null &&
			document.querySelector(".notice-error").textContent.includes("meant for another application") && document.querySelector("form.logout") === null`),
	)
}
