package adminui

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/calendar"
	"github.com/connecthub/connecthub/internal/service"
)

// previewCount is how many upcoming fire times the form previews.
const previewCount = 5

// jobForm is the data of the job create/edit page: the values as typed (so
// a rejected form comes back as the person left it, secrets excepted), the
// errors by field, and what the page shows around the form.
type jobForm struct {
	IsNew bool
	// Job is the stored job when editing, for its read-only fields.
	Job *connecthub.Job

	ID, Description, CronExpr, Timezone, Handler, PublicCfg  string
	Timeout, MaxAttempts, RetryBackoff, Concurrency, Misfire string
	MisfireWindow, Queue, Priority                           string
	Calendar, CalendarMode                                   string
	Enabled                                                  bool
	// OnSuccess and OnFailure are the chain lists as typed: ids separated
	// by commas.
	OnSuccess, OnFailure string
	// KeepRuns and KeepFor are the job's retention as typed: a count
	// ("" or 0: no count limit) and a period ("30d", "720h"; "": the
	// server's default).
	KeepRuns, KeepFor string

	// SecretKeys are the names of the secrets already set. Their values are
	// never sent to the browser.
	SecretKeys []string
	// SecretDropped is true when a rejected form had secrets typed in: they
	// are not echoed back, and the page asks for them again.
	SecretDropped bool

	Errors    map[string]string
	FormError string

	Handlers   []handlerView
	Preview    previewView
	RecentRuns []*connecthub.Run
	Loc        *time.Location
	Timezones  []string
	// Calendars are the names the calendar field offers.
	Calendars []string
	// Warnings are what the stored job's page warns about (a calendar
	// lacking this year's days).
	Warnings []service.Warning
	CSRF     string
}

// commonTimezones feed the timezone field's suggestions; any IANA name is
// accepted.
var commonTimezones = []string{
	"UTC", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore", "Asia/Tokyo", "Asia/Seoul",
	"Asia/Kolkata", "Asia/Dubai", "Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Moscow",
	"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Sao_Paulo",
	"Australia/Sydney", "Pacific/Auckland",
}

// formFromJob fills the form with a stored job.
func formFromJob(j *connecthub.Job) *jobForm {
	return &jobForm{
		Job: j, ID: j.ID, Description: j.Description, Enabled: j.Enabled, CronExpr: j.CronExpr, Timezone: j.Timezone,
		Handler: j.Handler, PublicCfg: prettyJSON(j.PublicCfg), Timeout: j.Timeout.String(),
		MaxAttempts: strconv.Itoa(j.MaxAttempts), RetryBackoff: j.RetryBackoff.String(), Concurrency: j.Concurrency,
		Misfire: j.Misfire, MisfireWindow: j.MisfireWindow.String(), Queue: j.Queue, Priority: strconv.Itoa(j.Priority),
		SecretKeys: j.SecretKeys, Calendar: j.Calendar, CalendarMode: j.CalendarMode,
		OnSuccess: chainFormValue(j.OnSuccess), OnFailure: chainFormValue(j.OnFailure),
		KeepRuns: keepRunsFormValue(j.KeepRuns), KeepFor: keepForFormValue(j.KeepFor),
	}
}

// keepRunsFormValue shows no count limit as an empty field.
func keepRunsFormValue(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// keepForFormValue shows a period the way operators write it: whole days
// as "30d", anything else as a Go duration, the default as empty.
func keepForFormValue(d connecthub.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == 0:
		return ""
	case time.Duration(d)%day == 0:
		return strconv.FormatInt(int64(time.Duration(d)/day), 10) + "d"
	}
	return d.String()
}

// formFromRequest reads the posted form. The secret editor's text is kept
// apart: it goes to the service and never back into a page.
func formFromRequest(r *http.Request) (*jobForm, string) {
	v := func(name string) string { return r.PostFormValue(name) }
	f := &jobForm{
		ID: strings.TrimSpace(v("id")), Description: v("description"), Enabled: v("enabled") != "",
		CronExpr: strings.TrimSpace(v("cron_expr")), Timezone: strings.TrimSpace(v("timezone")),
		Handler: strings.TrimSpace(v("handler")), PublicCfg: v("public_cfg"), Timeout: strings.TrimSpace(v("timeout")),
		MaxAttempts: strings.TrimSpace(v("max_attempts")), RetryBackoff: strings.TrimSpace(v("retry_backoff")),
		Concurrency: v("concurrency"), Misfire: v("misfire"), MisfireWindow: strings.TrimSpace(v("misfire_window")),
		Queue: strings.TrimSpace(v("queue")), Priority: strings.TrimSpace(v("priority")),
		Calendar: strings.TrimSpace(v("calendar")), CalendarMode: strings.TrimSpace(v("calendar_mode")),
		OnSuccess: v("on_success"), OnFailure: v("on_failure"),
		KeepRuns: strings.TrimSpace(v("keep_runs")), KeepFor: strings.TrimSpace(v("keep_for")),
	}
	return f, strings.TrimSpace(v("secret_cfg"))
}

// input turns the form into the JSON body the API would receive, and
// decodes it with the API's own decoder, so the form and the API accept
// exactly the same things. Problems the browser could have caught (JSON
// editors, numbers) are collected for every field at once.
func (f *jobForm) input(secret string) (*connecthub.JobInput, []*connecthub.Error) {
	var errs []*connecthub.Error
	body := map[string]any{
		"description": f.Description, "enabled": f.Enabled, "cron_expr": f.CronExpr, "timezone": f.Timezone,
		"handler": f.Handler, "concurrency": f.Concurrency, "misfire": f.Misfire,
		"calendar": f.Calendar, "on_success": f.OnSuccess, "on_failure": f.OnFailure,
		// Always sent, so that emptying a field clears the limit.
		"keep_runs": 0, "keep_for": f.KeepFor,
	}
	if f.Calendar != "" {
		body["calendar_mode"] = f.CalendarMode
	}
	if f.IsNew {
		body["id"] = f.ID
	}
	if strings.TrimSpace(f.PublicCfg) == "" {
		body["public_cfg"] = json.RawMessage("{}")
	} else if connecthub.IsJSONObject(json.RawMessage(f.PublicCfg)) {
		body["public_cfg"] = json.RawMessage(f.PublicCfg)
	} else {
		errs = append(errs, connecthub.FieldError("public_cfg", "", "public_cfg must be a JSON object"))
	}
	// An empty secret editor means "keep the secrets"; {} clears them.
	if secret != "" && secret != "null" {
		if connecthub.IsJSONObject(json.RawMessage(secret)) {
			body["secret_cfg"] = json.RawMessage(secret)
		} else {
			errs = append(errs, connecthub.FieldError("secret_cfg", "", "secret_cfg must be a JSON object"))
		}
	}
	if f.Timeout == "" {
		body["timeout"] = "0s"
	} else {
		body["timeout"] = f.Timeout
	}
	for _, d := range []struct {
		name, value string
	}{{"retry_backoff", f.RetryBackoff}, {"misfire_window", f.MisfireWindow}, {"queue", f.Queue}} {
		if d.value != "" {
			body[d.name] = d.value
		}
	}
	for _, n := range []struct {
		name, value string
	}{{"max_attempts", f.MaxAttempts}, {"priority", f.Priority}, {"keep_runs", f.KeepRuns}} {
		if n.value == "" {
			continue
		}
		i, err := strconv.Atoi(n.value)
		if err != nil {
			errs = append(errs, connecthub.FieldError(n.name, "", "%s must be an integer", n.name))
			continue
		}
		body[n.name] = i
	}
	if len(errs) > 0 {
		return nil, errs
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, []*connecthub.Error{connecthub.Errorf(connecthub.KindInvalid, "%s", err.Error())}
	}
	in, err := connecthub.DecodeJobInput(raw)
	if err != nil {
		return nil, fieldErrors(err)
	}
	return in, nil
}

// fieldErrors picks the error a form can show from a service error; nil
// for an internal error, which is no fault of the form.
func fieldErrors(err error) []*connecthub.Error {
	var e *connecthub.Error
	if !errors.As(err, &e) || e.Kind == connecthub.KindInternal {
		return nil
	}
	return []*connecthub.Error{e}
}

// valueCodes are the error codes whose message quotes the value typed.
var valueCodes = map[string]bool{"unknown_handler": true, "handler_disabled": true, "invalid_timezone": true, "invalid_cron": true}

// formErrors turns errors into the form's messages by field ("" is shown
// above the form). English shows the API's own message, which is the most
// precise; another language shows the catalog's message for the error's
// code ("apierr.<code>"), chosen by code and field because the API's
// messages are English, and the API's message only for a code the catalog
// does not know.
func (u *UI) formErrors(r *http.Request, f *jobForm, errs []*connecthub.Error) map[string]string {
	lang := pickLanguage(r)
	cat := u.pages.catalogs[lang]
	out := make(map[string]string, len(errs))
	for _, e := range errs {
		field := e.Field
		if e.Code == "job_exists" {
			field = "id"
		}
		msg := e.Message
		if key := "apierr." + e.Code; lang != "en" && cat[key] != "" {
			if args := chainErrorArgs(e); args != nil {
				msg = cat.T(key, args...)
			} else if valueCodes[e.Code] {
				msg = cat.T(key, f.value(field))
			} else {
				msg = cat.T(key)
			}
		}
		if _, seen := out[field]; !seen {
			out[field] = msg
		}
	}
	return out
}

// value is what the form holds for a field, for messages that quote it.
func (f *jobForm) value(field string) string {
	switch field {
	case "handler":
		return f.Handler
	case "timezone":
		return f.Timezone
	case "cron_expr":
		return f.CronExpr
	}
	return ""
}

// jobNew shows an empty form with the defaults of a new job.
func (u *UI) jobNew(w http.ResponseWriter, r *http.Request) {
	f := &jobForm{IsNew: true, Enabled: true, Timezone: u.cfg.Timezone, PublicCfg: "{}", Timeout: "0s", MaxAttempts: "1",
		Concurrency: connecthub.ConcurrencyForbid, Misfire: connecthub.MisfireOnce, Queue: connecthub.DefaultQueue, Priority: "0",
		RetryBackoff: "", MisfireWindow: connecthub.DefaultMisfireWindow.String()}
	if h := r.URL.Query().Get("handler"); h != "" {
		f.Handler = h
	}
	u.showForm(w, r, http.StatusOK, f)
}

// jobEdit shows a stored job's form with its actions and recent runs.
func (u *UI) jobEdit(w http.ResponseWriter, r *http.Request) {
	j, err := u.svc.JobGet(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.showForm(w, r, http.StatusOK, formFromJob(j))
}

// jobCreate saves a new job, or shows the form again with its errors.
func (u *UI) jobCreate(w http.ResponseWriter, r *http.Request) {
	f, secret := formFromRequest(r)
	f.IsNew = true
	in, errs := f.input(secret)
	if errs == nil {
		j, warnings, err := u.svc.JobCreateWithWarnings(r.Context(), in)
		if err == nil {
			u.savedFlash(w, r, "flash.job_created", j, warnings)
			redirect(w, r, jobURL(j.ID))
			return
		}
		if errs = fieldErrors(err); errs == nil {
			u.fail(w, r, err)
			return
		}
	}
	f.Errors, f.SecretDropped = u.formErrors(r, f, errs), secret != ""
	u.showForm(w, r, http.StatusUnprocessableEntity, f)
}

// jobUpdate saves an edited job, or shows the form again with its errors.
func (u *UI) jobUpdate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	stored, err := u.svc.JobGet(r.Context(), id)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	f, secret := formFromRequest(r)
	f.ID, f.Job, f.SecretKeys = id, stored, stored.SecretKeys
	in, errs := f.input(secret)
	if errs == nil {
		j, warnings, err := u.svc.JobUpdateWithWarnings(r.Context(), id, in)
		if err == nil {
			u.savedFlash(w, r, "flash.job_saved", j, warnings)
			redirect(w, r, jobURL(j.ID))
			return
		}
		if errs = fieldErrors(err); errs == nil {
			u.fail(w, r, err)
			return
		}
	}
	f.Errors, f.SecretDropped = u.formErrors(r, f, errs), secret != ""
	u.showForm(w, r, http.StatusUnprocessableEntity, f)
}

// savedFlash confirms a save. A save the service accepted with warnings
// (no active node serves the handler or the queue) says so instead, because
// the job's runs may not execute until that is fixed.
// Like a validation message, a warning outside English is the catalog's
// text for its code.
func (u *UI) savedFlash(w http.ResponseWriter, r *http.Request, key string, j *connecthub.Job, warnings []service.Warning) {
	if len(warnings) == 0 {
		setFlash(w, r, key, j.ID)
		return
	}
	lang := pickLanguage(r)
	cat := u.pages.catalogs[lang]
	msgs := make([]string, len(warnings))
	for i, wr := range warnings {
		msgs[i] = wr.Message
		if k := "apierr." + wr.Code; lang != "en" && cat[k] != "" {
			if wr.Code == service.WarnQueueUnserved {
				msgs[i] = cat.T(k, j.Handler, j.Queue)
			} else {
				msgs[i] = cat.T(k, j.Handler)
			}
		}
	}
	setFlash(w, r, key+"_warn", j.ID+"\x00"+strings.Join(msgs, " "))
}

// showForm fills what the form page shows around the fields and renders it.
func (u *UI) showForm(w http.ResponseWriter, r *http.Request, status int, f *jobForm) {
	f.CSRF = u.sessions.CSRFToken(sessionOf(r))
	f.Timezones = commonTimezones
	if msg, ok := f.Errors[""]; ok {
		f.FormError = msg
	}
	known := false
	for _, h := range u.handlers(r.Context()) {
		hv := newHandlerView(h, pickLanguage(r))
		hv.Selected = h.Name == f.Handler
		known = known || hv.Selected
		f.Handlers = append(f.Handlers, hv)
	}
	if f.Handler != "" && !known {
		// A job whose handler this build no longer has stays editable; the
		// save reports the unknown handler.
		f.Handlers = append(f.Handlers, handlerView{Name: f.Handler, Selected: true})
	}
	cals, err := u.svc.CalendarList(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	for _, c := range cals {
		f.Calendars = append(f.Calendars, c.Name)
	}
	f.Loc = u.locOf(f.Timezone)
	f.Preview = u.preview(r, f.CronExpr, f.Timezone, f.Calendar, f.CalendarMode)
	if f.Job != nil {
		runs, _, err := u.svc.RunList(r.Context(), connecthub.RunFilter{JobID: f.Job.ID, Limit: 10})
		if err != nil {
			u.fail(w, r, err)
			return
		}
		f.RecentRuns = runs
		f.Loc = f.Job.Location()
		if f.Warnings, err = u.svc.JobWarnings(r.Context(), f.Job); err != nil {
			u.fail(w, r, err)
			return
		}
	}
	title := "job.new.title"
	if !f.IsNew {
		title = "job.edit.title"
	}
	u.render(w, r, status, "job_form", u.page(w, r, "jobs", title, f))
}

// locOf loads a timezone, falling back to the UI's default for a name that
// is empty or unknown (the form reports the unknown name separately).
func (u *UI) locOf(tz string) *time.Location {
	if tz == "" || strings.EqualFold(tz, "local") {
		return u.defLoc
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return u.defLoc
	}
	return loc
}

// previewView is the list of upcoming fire times under the cron field.
type previewView struct {
	Times []time.Time
	Loc   *time.Location
	TZ    string
	Error string
	// NoCron is true when the job has no schedule (it runs only on demand).
	NoCron bool
	// Skipped are the slots the job's calendar passes over, with why.
	Skipped []calendar.Skipped
}

// preview computes the next fire times with the service, exactly as the
// scheduler will; its error speaks the request's language.
func (u *UI) preview(r *http.Request, expr, tz, cal, mode string) previewView {
	if tz == "" {
		tz = u.cfg.Timezone
	}
	pv := previewView{TZ: tz, Loc: u.locOf(tz)}
	if strings.TrimSpace(expr) == "" {
		pv.NoCron = true
		return pv
	}
	if cal == "" {
		mode = ""
	}
	times, skipped, err := u.svc.CronPreview(r.Context(), service.CronPreviewParams{
		Expr: expr, TZ: tz, N: previewCount, After: u.now(), Calendar: cal, Mode: mode})
	if err != nil {
		var e *connecthub.Error
		if errors.As(err, &e) {
			// The preview's fields are named expr and tz in the service.
			f := &jobForm{CronExpr: expr, Timezone: tz}
			field := e.Field
			if named, ok := map[string]string{"expr": "cron_expr", "tz": "timezone"}[e.Field]; ok {
				field = named
			}
			pv.Error = u.formErrors(r, f, []*connecthub.Error{{Kind: e.Kind, Code: e.Code, Field: field, Message: e.Message}})[field]
		} else {
			pv.Error = err.Error()
		}
		return pv
	}
	pv.Times, pv.Skipped = times, skipped
	return pv
}

// cronPreview answers the form's live preview as the cron or timezone
// field changes.
func (u *UI) cronPreview(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	u.renderPartial(w, r, http.StatusOK, "job_form", "cron_preview", u.preview(r, q.Get("cron_expr"),
		strings.TrimSpace(q.Get("timezone")), strings.TrimSpace(q.Get("calendar")), strings.TrimSpace(q.Get("calendar_mode"))))
}

// handlerView describes a handler in the form: its description, the
// secrets it needs and the fields of its config schema.
type handlerView struct {
	Name        string
	Description string
	SecretKeys  []string
	Fields      []schemaField
	// Example is a public_cfg skeleton built from the schema.
	Example  string
	Selected bool
}

// schemaField is one top-level property of a handler's config schema.
type schemaField struct {
	Name        string
	Type        string
	Description string
	Required    bool
	Enum        []string
	Default     string
	// Input is the control the form offers: text, number, integer,
	// checkbox, select, or "" for structured values edited in the JSON.
	Input string
}
