package adminui

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/notify"
)

// rulesView is the alert rules page.
type rulesView struct {
	CSRF  string
	Rules []*connecthub.AlertRule
}

func (u *UI) rulesPage(svc *notify.Service, w http.ResponseWriter, r *http.Request) {
	list, err := svc.Store.AlertRuleList(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	v := u.page(w, r, "notify", "notify.rules.title", nil)
	v.Data = rulesView{CSRF: v.CSRF, Rules: list}
	u.render(w, r, http.StatusOK, "notify_rules", v)
}

// ruleForm is the rule form's data.
type ruleForm struct {
	IsNew                         bool
	ID, CSRF                      string
	Name, Event, Threshold, Quiet string
	Job, Handler, Queue           string
	Enabled                       bool
	Channels                      []string
	AllChannels                   []string
	Events                        []string
	Errors                        map[string]string
}

// Selected reports whether the form names channel c.
func (f *ruleForm) Selected(c string) bool { return slices.Contains(f.Channels, c) }

func (u *UI) showRuleForm(svc *notify.Service, w http.ResponseWriter, r *http.Request, status int, f *ruleForm) {
	title := "notify.rule.edit_title"
	if f.IsNew {
		title = "notify.rule.new_title"
	}
	chans, err := svc.Store.ChannelList(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	f.AllChannels = nil
	for _, c := range chans {
		f.AllChannels = append(f.AllChannels, c.Name)
	}
	v := u.page(w, r, "notify", title, nil)
	f.CSRF, f.Events = v.CSRF, connecthub.Events
	v.Data = f
	u.render(w, r, status, "notify_rule_form", v)
}

func (u *UI) ruleNew(svc *notify.Service, w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := &ruleForm{IsNew: true, Enabled: true, Event: connecthub.EventFailure, Threshold: "1",
		Quiet: connecthub.DefaultQuietPeriod.String(), Job: q.Get("job")}
	u.showRuleForm(svc, w, r, http.StatusOK, f)
}

func (u *UI) ruleEdit(svc *notify.Service, w http.ResponseWriter, r *http.Request) {
	rule, err := svc.Store.AlertRuleGet(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.showRuleForm(svc, w, r, http.StatusOK, &ruleForm{ID: rule.ID, Name: rule.Name, Event: rule.Event, Threshold: rule.Threshold,
		Quiet: rule.QuietPeriod.String(), Job: rule.Match.Job, Handler: rule.Match.Handler, Queue: rule.Match.Queue,
		Enabled: rule.Enabled, Channels: rule.Channels})
}

func (u *UI) ruleSave(svc *notify.Service, w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	pf := r.PostForm
	id := r.PathValue("id")
	f := &ruleForm{IsNew: id == "", ID: id, Name: pf.Get("name"), Event: pf.Get("event"), Threshold: strings.TrimSpace(pf.Get("threshold")),
		Quiet: strings.TrimSpace(pf.Get("quiet_period")), Job: strings.TrimSpace(pf.Get("job")), Handler: strings.TrimSpace(pf.Get("handler")),
		Queue: strings.TrimSpace(pf.Get("queue")), Enabled: pf.Get("enabled") == "1", Channels: pf["channels"]}
	quiet, err := connecthub.ParseDuration(f.Quiet)
	if err != nil {
		f.Errors = map[string]string{"quiet_period": err.Error()}
		u.showRuleForm(svc, w, r, http.StatusUnprocessableEntity, f)
		return
	}
	in := notify.RuleInput{Name: f.Name, Enabled: &f.Enabled, Event: f.Event, Threshold: f.Threshold, Channels: f.Channels,
		QuietPeriod: &quiet, Match: connecthub.RuleMatch{Job: f.Job, Handler: f.Handler, Queue: f.Queue}}
	var rule *connecthub.AlertRule
	if f.IsNew {
		rule, err = svc.CreateRule(u.svc.Audited(r.Context(), "alert_rule.create", "alert_rule:"+in.Name), in)
	} else {
		rule, err = svc.UpdateRule(u.svc.Audited(r.Context(), "alert_rule.update", "alert_rule:"+id), id, in)
	}
	if err != nil {
		if f.Errors = errorsByField(err); f.Errors == nil {
			u.fail(w, r, err)
			return
		}
		u.showRuleForm(svc, w, r, http.StatusUnprocessableEntity, f)
		return
	}
	setFlash(w, r, "notify.flash.rule_saved", rule.Name)
	redirect(w, r, Prefix+"/notify/rules")
}

func (u *UI) ruleDelete(svc *notify.Service, w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rule, err := svc.Store.AlertRuleGet(r.Context(), id)
	if err == nil {
		err = svc.Store.AlertRuleDelete(u.svc.Audited(r.Context(), "alert_rule.delete", "alert_rule:"+id), id)
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	setFlash(w, r, "notify.flash.rule_deleted", rule.Name)
	redirect(w, r, Prefix+"/notify/rules")
}

// deliveriesView is the delivery log page.
type deliveriesView struct {
	Channel, Event, Status string
	Events, Statuses       []string
	Items                  []deliveryRow
	Next                   string
	NextQuery              string
	Problem                string
}

// deliveryRow is one notification with its latest answer.
type deliveryRow struct {
	*connecthub.Notification
	Last string
}

const deliveriesPageSize = 50

func (u *UI) deliveriesPage(svc *notify.Service, w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	dv := deliveriesView{Channel: q.Get("channel"), Event: q.Get("event"), Status: q.Get("status"),
		Events:   append(slices.Clone(connecthub.Events), connecthub.EventTest),
		Statuses: []string{connecthub.DeliveryPending, connecthub.DeliverySent, connecthub.DeliveryFailed}}
	items, next, err := svc.Store.NotificationList(r.Context(), connecthub.NotificationFilter{Channel: dv.Channel, Event: dv.Event,
		Status: dv.Status, JobID: q.Get("job_id"), Limit: deliveriesPageSize, Cursor: q.Get("cursor")})
	switch {
	case connecthub.IsKind(err, connecthub.KindInvalid):
		dv.Problem = err.Error()
	case err != nil:
		u.fail(w, r, err)
		return
	}
	for _, n := range items {
		row := deliveryRow{Notification: n}
		if len(n.History) > 0 {
			row.Last = n.History[len(n.History)-1].Response
		}
		dv.Items = append(dv.Items, row)
	}
	dv.Next = next
	if next != "" {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("cursor", next)
		dv.NextQuery = nq.Encode()
	}
	u.render(w, r, http.StatusOK, "notify_deliveries", u.page(w, r, "notify", "notify.deliveries.title", dv))
}

// shortcutView is the job form's "notify on failure" panel: the channels,
// and the channel of the job's own failure rule, if it has one.
type shortcutView struct {
	JobID, CSRF, Current string
	Channels             []string
}

// shortcutRuleName names the rule the shortcut keeps for a job.
func shortcutRuleName(jobID string) string { return "job " + jobID + " failures" }

// jobRule finds the job's shortcut rule: a failure rule that matches only
// this job by its exact id and has the shortcut's name.
func jobRule(rules []*connecthub.AlertRule, jobID string) *connecthub.AlertRule {
	for _, r := range rules {
		if r.Event == connecthub.EventFailure && r.Match.Job == jobID && r.Name == shortcutRuleName(jobID) {
			return r
		}
	}
	return nil
}

func (u *UI) shortcutPanel(svc *notify.Service, w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	// A job that does not exist has no panel: 404, as its form would be.
	if _, err := u.svc.JobGet(r.Context(), id); err != nil {
		u.fail(w, r, err)
		return
	}
	chans, err := svc.Store.ChannelList(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	rules, err := svc.Store.AlertRuleList(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	sv := shortcutView{JobID: id}
	if s := sessionOf(r); s != nil {
		sv.CSRF = u.sessions.CSRFToken(s)
	}
	for _, c := range chans {
		sv.Channels = append(sv.Channels, c.Name)
	}
	if rule := jobRule(rules, id); rule != nil && rule.Enabled && len(rule.Channels) > 0 {
		sv.Current = rule.Channels[0]
	}
	u.renderPartial(w, r, http.StatusOK, "notify_shortcut", "shortcut", sv)
}

// shortcutSave keeps the job's shortcut rule: a channel creates or points
// it there, none disables it.
func (u *UI) shortcutSave(svc *notify.Service, w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := u.svc.JobGet(r.Context(), id); err != nil {
		u.fail(w, r, err)
		return
	}
	_ = r.ParseForm()
	channel := r.PostForm.Get("channel")
	rules, err := svc.Store.AlertRuleList(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	enabled := channel != ""
	in := notify.RuleInput{Name: shortcutRuleName(id), Enabled: &enabled, Event: connecthub.EventFailure, Threshold: "1",
		Match: connecthub.RuleMatch{Job: id}, Channels: []string{channel}}
	rule := jobRule(rules, id)
	switch {
	case rule == nil && !enabled:
	case rule == nil:
		_, err = svc.CreateRule(u.svc.Audited(r.Context(), "alert_rule.create", "alert_rule:"+in.Name), in)
	case !enabled:
		in.Channels = rule.Channels
		in.QuietPeriod = &rule.QuietPeriod
		_, err = svc.UpdateRule(u.svc.Audited(r.Context(), "alert_rule.update", "alert_rule:"+rule.ID), rule.ID, in)
	default:
		in.QuietPeriod = &rule.QuietPeriod
		_, err = svc.UpdateRule(u.svc.Audited(r.Context(), "alert_rule.update", "alert_rule:"+rule.ID), rule.ID, in)
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	setFlash(w, r, "notify.flash.shortcut_saved", id)
	redirect(w, r, jobURL(id))
}
