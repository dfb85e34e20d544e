package adminui

import (
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/auth"
	"github.com/connecthub/connecthub/internal/sso"
	"github.com/connecthub/connecthub/internal/store"
)

// Reasons of refused single sign-ons that the UI decides itself, besides
// sso's: the user is disabled here, or a first sign-in's username is a
// local user's.
const (
	reasonDisabled = "disabled"
	reasonTaken    = "username_taken"
)

// oidcStatus is the status of the page that tells a person why a single
// sign-on was refused: the issuer or the network failing is a 502, a
// disabled user a 403, a stale or forged callback a 400, a token that
// does not hold up a 401.
var oidcStatus = map[string]int{
	sso.ReasonState: http.StatusBadRequest, sso.ReasonProvider: http.StatusUnauthorized,
	sso.ReasonDiscovery: http.StatusBadGateway, sso.ReasonExchange: http.StatusBadGateway,
	sso.ReasonIssuer: http.StatusUnauthorized, sso.ReasonAudience: http.StatusUnauthorized,
	sso.ReasonSignature: http.StatusUnauthorized, sso.ReasonExpired: http.StatusUnauthorized,
	sso.ReasonNonce: http.StatusUnauthorized, sso.ReasonClaims: http.StatusUnauthorized,
	reasonDisabled: http.StatusForbidden, reasonTaken: http.StatusConflict,
}

// forged are the reasons that point at a forged or replayed answer rather
// than at the person or the issuer: they use up the client's budget of
// failed sign-ins.
var forged = map[string]bool{sso.ReasonState: true, sso.ReasonNonce: true, sso.ReasonIssuer: true,
	sso.ReasonAudience: true, sso.ReasonSignature: true}

// oidcStart sends the browser to the issuer, with the flow cookie that
// the callback checks.
func (u *UI) oidcStart(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, err := u.sessions.FromRequest(r); err == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	target, err := u.cfg.SSO.Begin(w, r, next)
	if err != nil {
		u.oidcRefused(w, r, next, "", err)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// oidcCallback finishes a single sign-on: the issuer's answer is checked
// (sso.Client.Finish), the user found or created with its mapped role,
// and a session started exactly as a password login starts one.
func (u *UI) oidcCallback(w http.ResponseWriter, r *http.Request) {
	// A client that keeps sending forged answers shares the password
	// form's budget: once it is spent, callbacks are turned away before
	// they are checked (or audited), so they cannot flood the audit log.
	if blocked, wait := u.guard.Blocked(u.guard.Client(r), auth.KindLogin); blocked {
		secs := max(int(math.Ceil(wait.Seconds())), 1)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		u.showLogin(w, r, http.StatusTooManyRequests, loginView{Next: Prefix + "/", ErrorKey: "login.limited", RetrySecs: secs})
		return
	}
	id, next, err := u.cfg.SSO.Finish(w, r)
	if err != nil {
		u.oidcRefused(w, r, safeNext(next), "", err)
		return
	}
	next = safeNext(next)
	client := u.guard.Client(r)
	user, err := u.svc.OIDCSignIn(r.Context(), store.OIDCSignIn{Issuer: id.Issuer, Subject: id.Subject,
		Username: id.Username, DisplayName: id.DisplayName, Role: id.Role}, client)
	switch {
	case connecthub.IsKind(err, connecthub.KindForbidden):
		u.oidcRefused(w, r, next, id.Username, &sso.Failure{Reason: reasonDisabled, Err: err})
		return
	case connecthub.IsKind(err, connecthub.KindConflict):
		u.oidcRefused(w, r, next, id.Username, &sso.Failure{Reason: reasonTaken, Err: err})
		return
	case connecthub.IsKind(err, connecthub.KindInvalid):
		u.oidcRefused(w, r, next, id.Username, &sso.Failure{Reason: sso.ReasonClaims, Err: err})
		return
	case err != nil:
		u.fail(w, r, err)
		return
	}
	s, value, err := u.sessions.IssueFor(r.Context(), user.Username, false, client, r.UserAgent())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.sessions.SetCookie(w, r, value, s)
	u.log.Info("signed in", "user", user.Username, "method", "oidc", "role", user.Role, "groups", id.Groups, "client", client)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// oidcRefused records a refused single sign-on (login.failed with the
// reason and the client's address) and shows the login page with a
// sentence that says what went wrong, never a bare error page.
func (u *UI) oidcRefused(w http.ResponseWriter, r *http.Request, next, user string, err error) {
	var f *sso.Failure
	if !errors.As(err, &f) {
		f = &sso.Failure{Reason: sso.ReasonDiscovery, Err: err}
	}
	if user == "" {
		user = f.Username
	}
	client := u.guard.Client(r)
	detail := "oidc: " + f.Reason
	if f.Err != nil {
		detail += ": " + f.Err.Error()
	}
	if aerr := u.svc.AuditSignInFailed(r.Context(), user, client, detail); aerr != nil {
		u.log.Error("cannot record a refused single sign-on in the audit log", "err", aerr)
	}
	if forged[f.Reason] {
		u.guard.Fail(r, client, auth.KindLogin)
	}
	u.log.Warn("single sign-on refused", "reason", f.Reason, "user", user, "client", client, "err", f.Err)
	status, ok := oidcStatus[f.Reason]
	if !ok {
		status = http.StatusUnauthorized
	}
	u.showLogin(w, r, status, loginView{Next: next, ErrorKey: "oidc.refused." + f.Reason})
}
