package adminui

import (
	"crypto/subtle"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/auth"
)

// loginCookie holds the login form's anti-forgery nonce (double submit):
// there is no session yet to bind a CSRF token to, and a login forged by
// another site would sign the victim into the attacker's account.
const loginCookie = "connecthub_login"

// loginView is the data of the login page.
type loginView struct {
	Username string
	Next     string
	Nonce    string
	// ErrorKey is a catalog key; RetryAfter fills error.login_limited.
	ErrorKey      string
	RetrySecs     int
	Expired       bool
	ShowTokenHint bool
	// SSOName labels the single sign-on button; "" hides it.
	SSOName string
}

// loginPage shows the form, or goes straight on when already logged in.
func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, err := u.sessions.FromRequest(r); err == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	u.showLogin(w, r, http.StatusOK, loginView{Next: next, Expired: r.URL.Query().Get("expired") == "1"})
}

func (u *UI) showLogin(w http.ResponseWriter, r *http.Request, status int, lv loginView) {
	nonce, err := auth.RandomToken(18)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: nonce, Path: Prefix + "/login", MaxAge: int(time.Hour.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: auth.IsTLS(r)})
	lv.Nonce = nonce
	lv.ShowTokenHint = u.cfg.Password == u.cfg.AdminToken
	if u.cfg.SSO != nil {
		lv.SSOName = u.cfg.SSOName
	}
	v := u.page(w, r, "", "login.title", lv)
	u.render(w, r, status, "login", v)
}

// loginSubmit checks the client's budget of failed attempts (shared with
// the API), the form's nonce and the credentials, in that order, then
// starts a session; only a wrong username or password uses up the budget. Every failure says as little as
// possible: "wrong username or password", never which one.
func (u *UI) loginSubmit(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.PostFormValue("next"))
	user := r.PostFormValue("username")
	lv := loginView{Username: user, Next: next}
	client := u.guard.Client(r)
	if blocked, wait := u.guard.Blocked(client, auth.KindLogin); blocked {
		secs := max(int(math.Ceil(wait.Seconds())), 1)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		lv.ErrorKey, lv.RetrySecs = "login.limited", secs
		u.showLogin(w, r, http.StatusTooManyRequests, lv)
		return
	}
	c, err := r.Cookie(loginCookie)
	form := r.PostFormValue("login_nonce")
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) != 1 {
		lv.ErrorKey = "login.form_expired"
		u.showLogin(w, r, http.StatusBadRequest, lv)
		return
	}
	// The bootstrap credentials are checked first: they are the way in
	// when the users table cannot help (nobody else is admin, or every
	// admin forgot its password).
	password := r.PostFormValue("password")
	breakGlass := u.creds.Match(user, password)
	if !breakGlass {
		_, err := u.authenticateUser(r, user, password)
		switch {
		case connecthub.IsKind(err, connecthub.KindUnauthorized):
			u.guard.Fail(r, client, auth.KindLogin)
			if aerr := u.svc.AuditSignInFailed(r.Context(), user, client, "wrong username or password, or a disabled user"); aerr != nil {
				u.log.Error("cannot record a failed sign-in in the audit log", "err", aerr)
			}
			lv.ErrorKey = "login.failed"
			u.showLogin(w, r, http.StatusUnauthorized, lv)
			return
		case err != nil:
			u.fail(w, r, err)
			return
		}
	}
	u.guard.Succeeded(client)
	actx := u.svc.SignInAudited(r.Context(), user, breakGlass, client, "password")
	s, value, err := u.sessions.IssueFor(actx, user, breakGlass, client, r.UserAgent())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.sessions.SetCookie(w, r, value, s)
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: Prefix + "/login", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: auth.IsTLS(r)})
	u.log.Info("signed in", "user", user, "break_glass", breakGlass, "client", client)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session in the database, so that a copy of the cookie
// is refused everywhere and after a restart, and returns to the login
// page.
func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	if err := u.sessions.Revoke(u.svc.Audited(r.Context(), "logout", "session:"+sessionOf(r).ID), sessionOf(r)); err != nil {
		// The cookie is left in place: a logout that did not reach the
		// database must not look done.
		u.fail(w, r, err)
		return
	}
	u.sessions.ClearCookie(w, r)
	setFlash(w, r, "flash.logged_out", "")
	redirect(w, r, Prefix+"/login")
}

// authenticateUser checks a user's password. A wrong password for the
// bootstrap username, when no user row has that name, fails at once: the
// name is known from the configuration, so skipping the slow hash that
// hides which names exist gives nothing away, and the login form stays
// quick for the person who mistyped the break-glass password.
func (u *UI) authenticateUser(r *http.Request, user, password string) (*connecthub.User, error) {
	if user == u.cfg.Username {
		if _, err := u.svc.UserGet(r.Context(), user); connecthub.IsKind(err, connecthub.KindNotFound) {
			return nil, connecthub.Errorf(connecthub.KindUnauthorized, "wrong username or password")
		}
	}
	return u.svc.UserAuthenticate(r.Context(), user, password)
}
