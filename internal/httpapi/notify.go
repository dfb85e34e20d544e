package httpapi

import (
	"net/http"
	"strings"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/notify"
)

// notifyRoutes registers channels, alert rules and the delivery log.
// Everyone signed in reads them; only an administrator changes channels
// and rules or sends a test (which reaches outside the server).
func (a *API) notifyRoutes(api apiFunc) {
	api("GET /api/v1/channels", connecthub.RoleViewer, a.notifyCall(a.channelList))
	api("POST /api/v1/channels", connecthub.RoleAdmin, a.notifyCall(a.channelCreate))
	api("GET /api/v1/channels/{name}", connecthub.RoleViewer, a.notifyCall(a.channelGet))
	api("PATCH /api/v1/channels/{name}", connecthub.RoleAdmin, a.notifyCall(a.channelUpdate))
	api("DELETE /api/v1/channels/{name}", connecthub.RoleAdmin, a.notifyCall(a.channelDelete))
	api("POST /api/v1/channels/{name}/test", connecthub.RoleAdmin, a.notifyCall(a.channelTest))
	api("GET /api/v1/alert-rules", connecthub.RoleViewer, a.notifyCall(a.ruleList))
	api("POST /api/v1/alert-rules", connecthub.RoleAdmin, a.notifyCall(a.ruleCreate))
	api("GET /api/v1/alert-rules/{id}", connecthub.RoleViewer, a.notifyCall(a.ruleGet))
	api("PUT /api/v1/alert-rules/{id}", connecthub.RoleAdmin, a.notifyCall(a.ruleUpdate))
	api("DELETE /api/v1/alert-rules/{id}", connecthub.RoleAdmin, a.notifyCall(a.ruleDelete))
	api("GET /api/v1/notifications", connecthub.RoleViewer, a.notifyCall(a.notificationList))
	api("GET /api/v1/notifications/{id}", connecthub.RoleViewer, a.notifyCall(a.notificationGet))
}

func (a *API) notifySvc() (*notify.Service, error) {
	if a.cfg.Notify == nil {
		return nil, &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "notify_disabled", Message: "notifications are not enabled on this server"}
	}
	return a.cfg.Notify, nil
}

// notifyCall runs fn with the notifications service, answering 503 when
// the server has none.
func (a *API) notifyCall(fn func(*notify.Service, http.ResponseWriter, *http.Request) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		svc, err := a.notifySvc()
		if err != nil {
			return err
		}
		return fn(svc, w, r)
	}
}

func (a *API) channelList(svc *notify.Service, w http.ResponseWriter, r *http.Request) error {
	list, err := svc.Store.ChannelList(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"channels": list})
	return nil
}

func (a *API) channelCreate(svc *notify.Service, w http.ResponseWriter, r *http.Request) error {
	var in notify.ChannelInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	c, err := svc.CreateChannel(a.svc.Audited(r.Context(), "channel.create", "channel:"+strings.TrimSpace(in.Name)), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/channels/"+c.Name)
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (a *API) channelGet(svc *notify.Service, w http.ResponseWriter, r *http.Request) error {
	c, err := svc.Store.ChannelGet(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (a *API) channelUpdate(svc *notify.Service, w http.ResponseWriter, r *http.Request) error {
	var in notify.ChannelInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	c, err := svc.UpdateChannel(a.svc.Audited(r.Context(), "channel.update", "channel:"+r.PathValue("name")), r.PathValue("name"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (a *API) channelDelete(svc *notify.Service, w http.ResponseWriter, r *http.Request) error {
	if err := svc.Store.ChannelDelete(a.svc.Audited(r.Context(), "channel.delete", "channel:"+r.PathValue("name")), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// channelTest queues a test message; the answer is the notification,
// whose status the client can follow at /api/v1/notifications/{id}.
func (a *API) channelTest(svc *notify.Service, w http.ResponseWriter, r *http.Request) error {
	n, err := svc.TestChannel(r.Context(), r.PathValue("name"), "api")
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/notifications/"+n.ID)
	writeJSON(w, http.StatusAccepted, n)
	return nil
}

func (a *API) ruleList(svc *notify.Service, w http.ResponseWriter, r *http.Request) error {
	list, err := svc.Store.AlertRuleList(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"alert_rules": list})
	return nil
}

func (a *API) ruleCreate(svc *notify.Service, w http.ResponseWriter, r *http.Request) error {
	var in notify.RuleInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	rule, err := svc.CreateRule(a.svc.Audited(r.Context(), "alert_rule.create", "alert_rule:"+in.Name), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/alert-rules/"+rule.ID)
	writeJSON(w, http.StatusCreated, rule)
	return nil
}

func (a *API) ruleGet(svc *notify.Service, w http.ResponseWriter, r *http.Request) error {
	rule, err := svc.Store.AlertRuleGet(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rule)
	return nil
}

func (a *API) ruleUpdate(svc *notify.Service, w http.ResponseWriter, r *http.Request) error {
	var in notify.RuleInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	rule, err := svc.UpdateRule(a.svc.Audited(r.Context(), "alert_rule.update", "alert_rule:"+r.PathValue("id")), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rule)
	return nil
}

func (a *API) ruleDelete(svc *notify.Service, w http.ResponseWriter, r *http.Request) error {
	if err := svc.Store.AlertRuleDelete(a.svc.Audited(r.Context(), "alert_rule.delete", "alert_rule:"+r.PathValue("id")), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) notificationList(svc *notify.Service, w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	f := connecthub.NotificationFilter{Channel: q.Get("channel"), Event: q.Get("event"), Status: q.Get("status"),
		JobID: q.Get("job_id"), Limit: limit, Cursor: q.Get("cursor")}
	list, next, err := svc.Store.NotificationList(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"notifications": list, "next_cursor": next})
	return nil
}

func (a *API) notificationGet(svc *notify.Service, w http.ResponseWriter, r *http.Request) error {
	n, err := svc.Store.NotificationGet(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, n)
	return nil
}
