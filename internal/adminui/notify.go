package adminui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/notify"
)

// The notification pages: channels, alert rules, the delivery log, and
// the job form's "notify on failure" shortcut. They call Config.Notify;
// without it they answer 503.

func init() {
	for k, kind := range map[string]string{
		"notify.flash.channel_saved": "success", "notify.flash.channel_deleted": "success",
		"notify.flash.test_queued": "info", "notify.flash.rule_saved": "success", "notify.flash.rule_deleted": "success",
		"notify.flash.shortcut_saved": "success",
	} {
		flashKinds[k] = kind
	}
}

// notifyRoutes registers the notification pages: everyone signed in
// sees the channels, rules and deliveries; only an administrator opens
// their forms, changes them or sends a test.
func (u *UI) notifyRoutes(p func(string, connecthub.Role, http.HandlerFunc)) {
	p("GET "+Prefix+"/notify/channels", connecthub.RoleViewer, u.withNotify(u.channelsPage))
	p("GET "+Prefix+"/notify/channels/new", connecthub.RoleAdmin, u.withNotify(u.channelNew))
	p("POST "+Prefix+"/notify/channels", connecthub.RoleAdmin, u.withNotify(u.channelSave))
	p("GET "+Prefix+"/notify/channels/{name}/edit", connecthub.RoleAdmin, u.withNotify(u.channelEdit))
	p("POST "+Prefix+"/notify/channels/{name}/edit", connecthub.RoleAdmin, u.withNotify(u.channelSave))
	p("POST "+Prefix+"/notify/channels/{name}/test", connecthub.RoleAdmin, u.withNotify(u.channelTest))
	p("POST "+Prefix+"/notify/channels/{name}/delete", connecthub.RoleAdmin, u.withNotify(u.channelDelete))
	p("GET "+Prefix+"/notify/rules", connecthub.RoleViewer, u.withNotify(u.rulesPage))
	p("GET "+Prefix+"/notify/rules/new", connecthub.RoleAdmin, u.withNotify(u.ruleNew))
	p("POST "+Prefix+"/notify/rules", connecthub.RoleAdmin, u.withNotify(u.ruleSave))
	p("GET "+Prefix+"/notify/rules/{id}/edit", connecthub.RoleAdmin, u.withNotify(u.ruleEdit))
	p("POST "+Prefix+"/notify/rules/{id}/edit", connecthub.RoleAdmin, u.withNotify(u.ruleSave))
	p("POST "+Prefix+"/notify/rules/{id}/delete", connecthub.RoleAdmin, u.withNotify(u.ruleDelete))
	p("GET "+Prefix+"/notify/deliveries", connecthub.RoleViewer, u.withNotify(u.deliveriesPage))
	p("GET "+Prefix+"/notify/jobs/{id}/shortcut", connecthub.RoleAdmin, u.withNotify(u.shortcutPanel))
	p("POST "+Prefix+"/notify/jobs/{id}/shortcut", connecthub.RoleAdmin, u.withNotify(u.shortcutSave))
}

type notifyHandler func(svc *notify.Service, w http.ResponseWriter, r *http.Request)

func (u *UI) withNotify(h notifyHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if u.cfg.Notify == nil {
			u.renderError(w, r, http.StatusServiceUnavailable, "notify.disabled", "")
			return
		}
		h(u.cfg.Notify, w, r)
	}
}

// channelsView is the channels page.
type channelsView struct {
	CSRF     string
	Channels []*connecthub.Channel
}

func (u *UI) channelsPage(svc *notify.Service, w http.ResponseWriter, r *http.Request) {
	list, err := svc.Store.ChannelList(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	v := u.page(w, r, "notify", "notify.channels.title", nil)
	v.Data = channelsView{CSRF: v.CSRF, Channels: list}
	u.render(w, r, http.StatusOK, "notify_channels", v)
}

// channelForm is the channel form's data: what was typed (secrets never
// echoed), and the errors by field.
type channelForm struct {
	IsNew                bool
	CSRF                 string
	Name, Type, Language string
	URL, Secret          string
	HasSecret            bool
	SMTP                 connecthub.ChannelSMTP
	SMTPTo               string
	Port                 string
	Types                []string
	Errors               map[string]string
}

func (u *UI) showChannelForm(w http.ResponseWriter, r *http.Request, status int, f *channelForm) {
	title := "notify.channel.edit_title"
	if f.IsNew {
		title = "notify.channel.new_title"
	}
	v := u.page(w, r, "notify", title, nil)
	f.CSRF, f.Types = v.CSRF, connecthub.ChannelTypes
	v.Data = f
	u.render(w, r, status, "notify_channel_form", v)
}

func (u *UI) channelNew(_ *notify.Service, w http.ResponseWriter, r *http.Request) {
	u.showChannelForm(w, r, http.StatusOK, &channelForm{IsNew: true, Type: connecthub.ChannelDingTalk, Language: pickLanguage(r),
		SMTP: connecthub.ChannelSMTP{TLS: connecthub.SMTPStartTLS}})
}

func (u *UI) channelEdit(svc *notify.Service, w http.ResponseWriter, r *http.Request) {
	c, err := svc.Store.ChannelGet(r.Context(), r.PathValue("name"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	f := &channelForm{Name: c.Name, Type: c.Type, Language: c.Language, URL: c.URL, HasSecret: c.HasSecret,
		SMTP: connecthub.ChannelSMTP{TLS: connecthub.SMTPStartTLS}}
	if c.SMTP != nil {
		f.SMTP, f.SMTPTo, f.Port = *c.SMTP, strings.Join(c.SMTP.To, "\n"), strconv.Itoa(c.SMTP.Port)
	}
	u.showChannelForm(w, r, http.StatusOK, f)
}

// channelSave creates (POST /notify/channels) or updates a channel. An
// empty secret or password field keeps the stored one; the "clear" box
// removes it.
func (u *UI) channelSave(svc *notify.Service, w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	name := r.PathValue("name")
	f := &channelForm{IsNew: name == "", Name: strings.TrimSpace(r.PostForm.Get("name")), Type: r.PostForm.Get("type"),
		Language: r.PostForm.Get("language"), URL: strings.TrimSpace(r.PostForm.Get("url")), Port: strings.TrimSpace(r.PostForm.Get("smtp_port")),
		SMTPTo: r.PostForm.Get("smtp_to"), HasSecret: r.PostForm.Get("has_secret") == "1"}
	if !f.IsNew {
		f.Name = name
	}
	f.SMTP = connecthub.ChannelSMTP{Host: strings.TrimSpace(r.PostForm.Get("smtp_host")), Username: strings.TrimSpace(r.PostForm.Get("smtp_username")),
		From: strings.TrimSpace(r.PostForm.Get("smtp_from")), TLS: r.PostForm.Get("smtp_tls")}
	in := notify.ChannelInput{Name: f.Name, Type: f.Type, Language: f.Language}
	if f.Type == connecthub.ChannelEmail {
		f.SMTP.To = strings.FieldsFunc(f.SMTPTo, func(c rune) bool { return c == ',' || c == '\n' || c == '\r' || c == ' ' })
		if f.Port != "" {
			port, err := strconv.Atoi(f.Port)
			if err != nil {
				f.Errors = map[string]string{"smtp.port": u.tr(r, "notify.channel.bad_port")}
				u.showChannelForm(w, r, http.StatusUnprocessableEntity, f)
				return
			}
			f.SMTP.Port = port
		}
		in.SMTP = &notify.SMTPInput{ChannelSMTP: f.SMTP}
		if pw := r.PostForm.Get("smtp_password"); pw != "" || r.PostForm.Get("clear_secret") == "1" {
			in.SMTP.Password = &pw
		}
	} else {
		in.URL = &f.URL
		if s := strings.TrimSpace(r.PostForm.Get("secret")); s != "" || r.PostForm.Get("clear_secret") == "1" {
			in.Secret = &s
		}
	}
	var (
		c   *connecthub.Channel
		err error
	)
	if f.IsNew {
		c, err = svc.CreateChannel(u.svc.Audited(r.Context(), "channel.create", "channel:"+strings.TrimSpace(in.Name)), in)
	} else {
		c, err = svc.UpdateChannel(u.svc.Audited(r.Context(), "channel.update", "channel:"+name), name, in)
	}
	if err != nil {
		if f.Errors = errorsByField(err); f.Errors == nil {
			u.fail(w, r, err)
			return
		}
		if connecthub.IsKind(err, connecthub.KindConflict) {
			f.Errors = map[string]string{"name": err.Error()}
		}
		u.showChannelForm(w, r, http.StatusUnprocessableEntity, f)
		return
	}
	setFlash(w, r, "notify.flash.channel_saved", c.Name)
	redirect(w, r, Prefix+"/notify/channels")
}

func (u *UI) channelTest(svc *notify.Service, w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	who := "admin UI"
	if s != nil {
		who = s.User
	}
	n, err := svc.TestChannel(r.Context(), r.PathValue("name"), who)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	setFlash(w, r, "notify.flash.test_queued", n.Channel)
	redirect(w, r, Prefix+"/notify/deliveries?channel="+url.QueryEscape(n.Channel))
}

func (u *UI) channelDelete(svc *notify.Service, w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := svc.Store.ChannelDelete(u.svc.Audited(r.Context(), "channel.delete", "channel:"+name), name); err != nil {
		u.fail(w, r, err)
		return
	}
	setFlash(w, r, "notify.flash.channel_deleted", name)
	redirect(w, r, Prefix+"/notify/channels")
}

// errorsByField is a service error as a form's messages by field (the
// API's message; "" is shown above the form), or nil for an internal
// error, which is no fault of the form.
func errorsByField(err error) map[string]string {
	errs := fieldErrors(err)
	if errs == nil {
		return nil
	}
	return map[string]string{errs[0].Field: errs[0].Message}
}
