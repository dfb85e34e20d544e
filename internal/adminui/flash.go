package adminui

import (
	"encoding/base64"
	"net/http"
	"strings"
)

// flashCookie carries a one-time message across the redirect that follows a
// form post ("Job saved", "Run started").
const flashCookie = "connecthub_flash"

// flashKinds lists the messages a flash may carry and how each looks. Only
// these catalog keys are shown, so a cookie planted by someone else can at
// worst show one of our own messages, never their text.
var flashKinds = map[string]string{
	"flash.job_created":  "success",
	"flash.job_saved":    "success",
	"flash.job_enabled":  "success",
	"flash.job_disabled": "info",
	"flash.job_deleted":  "success",
	"flash.runs_purged":  "success",
	"flash.run_started":  "success",
	"flash.run_retried":  "success",
	"flash.run_canceled": "info",
	"flash.cancel_asked": "info",
	"flash.logged_out":   "info",

	"flash.calendar_saved":            "success",
	"flash.calendar_deleted":          "success",
	"flash.queue_paused":              "info",
	"flash.queue_resumed":             "success",
	"users.flash.created":             "success",
	"users.flash.role_set":            "success",
	"users.flash.disabled":            "info",
	"users.flash.enabled":             "success",
	"users.flash.password_changed":    "success",
	"users.flash.token_revoked":       "info",
	"users.flash.session_revoked":     "info",
	"users.flash.oidc_link_allowed":   "success",
	"users.flash.oidc_link_withdrawn": "info",
	"batches.flash.rolled_back":       "success",

	// A save that worked, but whose runs may wait (no node serves them).
	"flash.job_created_warn": "warning",
	"flash.job_saved_warn":   "warning",
}

// flashMsg is a flash ready to show.
type flashMsg struct {
	Kind string // success | info | warning | error
	Text string
}

// setFlash queues a message for the next page. arg is formatted into the
// message (a job id, a count; several are separated by NUL) and escaped
// when shown, like everything else.
func setFlash(w http.ResponseWriter, r *http.Request, key, arg string) {
	v := base64.RawURLEncoding.EncodeToString([]byte(key + "\x01" + arg))
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: v, Path: Prefix, MaxAge: 60,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
}

// takeFlash reads and clears the pending flash, if any.
func (u *UI) takeFlash(w http.ResponseWriter, r *http.Request, lang string) *flashMsg {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: Prefix, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return nil
	}
	key, arg, _ := strings.Cut(string(raw), "\x01")
	kind, ok := flashKinds[key]
	if !ok {
		return nil
	}
	cat := u.pages.catalogs[lang]
	if arg == "" {
		return &flashMsg{Kind: kind, Text: cat.T(key)}
	}
	args := []any{}
	for _, a := range strings.Split(arg, "\x00") {
		args = append(args, a)
	}
	return &flashMsg{Kind: kind, Text: cat.T(key, args...)}
}
