package adminui

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/httperr"
	"github.com/connecthub/connecthub/internal/timefmt"
)

//go:embed templates/*.html
var templateFS embed.FS

// pageSet holds every page's template, parsed once per language so that the
// `t` function in a template is bound to its catalog.
type pageSet struct {
	catalogs map[string]catalog
	// pages[lang][name] is the layout plus the page's own file.
	pages map[string]map[string]*template.Template
}

// layoutFile holds the layout and the partials every page may use.
const layoutFile = "templates/layout.html"

// loadPages parses the templates for every language.
func loadPages(shared template.FuncMap, now func() time.Time) (*pageSet, error) {
	cats, err := loadCatalogs()
	if err != nil {
		return nil, err
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	ps := &pageSet{catalogs: cats, pages: make(map[string]map[string]*template.Template)}
	for _, lang := range languages {
		funcs := template.FuncMap{}
		for k, v := range shared {
			funcs[k] = v
		}
		cat := cats[lang]
		funcs["t"] = cat.T
		funcs["rel"] = func(v any) string { return relTime(cat, asTime(v), now()) }
		funcs["dur"] = func(v any) string { return humanDuration(cat, v) }
		base, err := template.New("layout").Funcs(funcs).ParseFS(templateFS, layoutFile)
		if err != nil {
			return nil, fmt.Errorf("adminui: parse layout: %w", err)
		}
		ps.pages[lang] = make(map[string]*template.Template)
		for _, f := range files {
			if f == layoutFile {
				continue
			}
			t, err := template.Must(base.Clone()).ParseFS(templateFS, f)
			if err != nil {
				return nil, fmt.Errorf("adminui: parse %s: %w", f, err)
			}
			ps.pages[lang][strings.TrimSuffix(path.Base(f), ".html")] = t
		}
	}
	return ps, nil
}

// view is what the layout renders around a page.
type view struct {
	Lang  string
	Title string
	Nav   string // the active navigation item
	User  string
	CSRF  string
	// Path is the current page, for the language switch to come back to.
	Path  string
	Flash *flashMsg
	// Bare hides the navigation (login, and errors without a session).
	Bare bool
	// Can says what the signed-in user's role allows, so that pages show
	// only the controls it may use.
	Can  perms
	Role connecthub.Role
	Data any
}

// perms is what a role allows, as the templates ask it.
type perms struct {
	Operate bool // run now, retry, cancel, enable and disable jobs
	Admin   bool // create, edit and delete jobs; users and tokens
}

// permsOf returns what the request's principal may do.
func permsOf(r *http.Request) perms {
	p := principalOf(r)
	return perms{Operate: p.Allows(connecthub.RoleOperator), Admin: p.Allows(connecthub.RoleAdmin)}
}

// page starts a view for the request: language, user, CSRF token, flash.
func (u *UI) page(w http.ResponseWriter, r *http.Request, nav, titleKey string, data any) *view {
	lang := pickLanguage(r)
	v := &view{Lang: lang, Nav: nav, Path: r.URL.RequestURI(), Data: data, Bare: true}
	v.Title = u.pages.catalogs[lang].T(titleKey)
	if s := sessionOf(r); s != nil {
		v.User, v.CSRF, v.Bare = s.User, u.sessions.CSRFToken(s), false
		v.Can = permsOf(r)
		if p := principalOf(r); p != nil {
			v.Role = p.Role
		}
	}
	v.Flash = u.takeFlash(w, r, lang)
	return v
}

// tr translates key in the request's language.
func (u *UI) tr(r *http.Request, key string, args ...any) string {
	return u.pages.catalogs[pickLanguage(r)].T(key, args...)
}

// render executes a page's layout into a buffer first, so that a template
// error becomes a clean error page rather than half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	u.execute(w, r, status, name, "layout", v)
}

// renderPartial executes one named template of a page, for htmx swaps.
func (u *UI) renderPartial(w http.ResponseWriter, r *http.Request, status int, name, block string, data any) {
	u.execute(w, r, status, name, block, data)
}

func (u *UI) execute(w http.ResponseWriter, r *http.Request, status int, name, block string, data any) {
	t := u.pages.pages[pickLanguage(r)][name]
	if t == nil {
		u.log.Error("admin page template missing", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, block, data); err != nil {
		u.log.Error("render admin page", "page", name, "block", block, "err", err)
		if name != "error" {
			u.renderError(w, r, http.StatusInternalServerError, "", "")
		} else {
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Accept-Language, Cookie, HX-Request")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorView is the data of the error page.
type errorView struct {
	Status  int
	Heading string
	Message string
}

// renderError shows a friendly error page: a heading for the status, and
// either a catalog message (msgKey) or a message that is safe to show
// (detail, from a *connecthub.Error). Internal details never reach it.
func (u *UI) renderError(w http.ResponseWriter, r *http.Request, status int, msgKey, detail string) {
	cat := u.pages.catalogs[pickLanguage(r)]
	ev := errorView{Status: status, Heading: cat.T(fmt.Sprintf("error.%d", status)), Message: detail}
	if ev.Heading == fmt.Sprintf("error.%d", status) {
		ev.Heading = cat.T("error.generic")
	}
	if msgKey != "" {
		ev.Message = cat.T(msgKey)
	}
	if ev.Message == "" {
		ev.Message = cat.T(fmt.Sprintf("error.%d.message", status))
		if ev.Message == fmt.Sprintf("error.%d.message", status) {
			ev.Message = cat.T("error.generic.message")
		}
	}
	if isHTMX(r) {
		// htmx does not swap error responses; the script shows this text in
		// a toast.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(ev.Message))
		return
	}
	v := u.page(w, r, "", "", ev)
	v.Title = ev.Heading
	u.render(w, r, status, "error", v)
}

// fail shows err with the status httperr.Of gives, the mapping the API
// shares, so a page and the API answer alike, and the error's message in
// the page's language (errorText). An internal error is a
// generic 500 whose cause goes to the log only.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := httperr.Of(err)
	if p.Internal {
		u.log.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		u.renderError(w, r, http.StatusInternalServerError, "", "")
		return
	}
	u.renderError(w, r, p.Status, "", u.errorText(r, err))
}

// redirect answers a form post: a 303 to target for a normal browser
// request, or an HX-Redirect for htmx.
func redirect(w http.ResponseWriter, r *http.Request, target string) {
	if isHTMX(r) {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// funcs are the template functions that do not depend on the language.
func (u *UI) funcs() template.FuncMap {
	return template.FuncMap{
		"static":      u.static.url,
		"when":        u.when,
		"utc":         func(v any) string { return formatUTC(asTime(v)) },
		"json":        prettyJSON,
		"statusClass": func(s any) string { return strings.ToLower(fmt.Sprint(s)) },
		"jobURL":      jobURL,
		"runURL":      runURL,
		// requestKey is a fresh Idempotency-Key for a run-now form: a
		// form sent twice (a double click, a reload that re-posts) makes
		// one run (see UI.jobRun).
		"requestKey": rand.Text,
		"csrfHeaders": func(token string) string {
			b, _ := json.Marshal(map[string]string{"X-CSRF-Token": token})
			return string(b)
		},
		"firstLine": firstLine,
		"truncate":  truncate,
		"query":     withQuery,
		"join":      strings.Join,
		"split":     strings.Split,
		"isTerminal": func(s connecthub.RunStatus) bool {
			return s.Terminal()
		},
		"list": func(v ...string) []string { return v },
		"has":  slices.Contains[[]string],
		"dict": func(kv ...any) (map[string]any, error) {
			if len(kv)%2 != 0 {
				return nil, errors.New("dict needs key/value pairs")
			}
			m := make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, errors.New("dict keys must be strings")
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
		"deref": func(p *time.Time) time.Time {
			if p == nil {
				return time.Time{}
			}
			return *p
		},
	}
}

// jobURL is the canonical page of a job (its edit form with the actions).
func jobURL(id string) string { return Prefix + "/jobs/" + url.PathEscape(id) + "/edit" }

// runURL is a run's detail page.
func runURL(id string) string { return Prefix + "/runs/" + url.PathEscape(id) }

// asTime accepts time.Time and *time.Time (nil is the zero time).
func asTime(v any) time.Time {
	switch t := v.(type) {
	case time.Time:
		return t
	case *time.Time:
		if t != nil {
			return *t
		}
	}
	return time.Time{}
}

// when shows a time in loc (the job's timezone) with its UTC offset, and
// the UTC instant on hover:
// <time datetime="…Z" title="… UTC">2026-03-01 20:00:00 <span class="tz">+08:00</span></time>.
// The offset, never a zone abbreviation: "CST" is China and US Central.
// Every part is formatted from a time value, and is escaped all the same.
func (u *UI) when(v any, loc *time.Location) template.HTML {
	t := asTime(v)
	if t.IsZero() {
		return template.HTML(`<span class="muted">—</span>`)
	}
	if loc == nil {
		loc = u.defLoc
	}
	human := timefmt.Human(t, loc)
	wall, offset := human[:len(human)-7], human[len(human)-6:]
	return template.HTML(fmt.Sprintf(`<time datetime="%s" title="%s">%s <span class="tz">%s</span></time>`,
		html.EscapeString(t.UTC().Format(time.RFC3339)), html.EscapeString(formatUTC(t)),
		html.EscapeString(wall), html.EscapeString(offset)))
}

func formatUTC(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// relTime says how far t is from now in words: "in 5 min", "3 h ago".
func relTime(cat catalog, t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(now)
	future := d > 0
	if !future {
		d = -d
	}
	var amount string
	switch {
	case d < 5*time.Second:
		return cat.T("time.now")
	case d < time.Minute:
		amount = cat.T("time.seconds", int(d.Seconds()))
	case d < time.Hour:
		amount = cat.T("time.minutes", int(d.Minutes()))
	case d < 48*time.Hour:
		amount = cat.T("time.hours", int(d.Hours()))
	default:
		amount = cat.T("time.days", int(d.Hours()/24))
	}
	if future {
		return cat.T("time.in", amount)
	}
	return cat.T("time.ago", amount)
}

// humanDuration formats a duration for people: "850 ms", "12.3 s", "4m5s".
// Zero is "none" (a job without a timeout).
func humanDuration(cat catalog, v any) string {
	var d time.Duration
	switch x := v.(type) {
	case time.Duration:
		d = x
	case connecthub.Duration:
		d = x.D()
	case *connecthub.Duration:
		if x == nil {
			return "—"
		}
		d = x.D()
	case float64:
		d = time.Duration(x * float64(time.Second))
	}
	switch {
	case d <= 0:
		return cat.T("duration.none")
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}

// prettyJSON indents a JSON document for display; anything that is not
// JSON is shown as it is (html/template escapes it either way).
func prettyJSON(raw json.RawMessage) string {
	if len(bytes.TrimSpace(raw)) == 0 {
		return ""
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// truncate shortens s to n runes.
func truncate(n int, s string) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// withQuery returns "?" + q with the given key/value pairs replaced (an
// empty value removes the key), for pagination and filter links.
func withQuery(q url.Values, kv ...string) string {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			out.Del(kv[i])
		} else {
			out.Set(kv[i], kv[i+1])
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return "?" + out.Encode()
}
