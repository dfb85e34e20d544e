package notify

import (
	"crypto/tls"
	"encoding/json"
	"mime"
	"net/http"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/notify/notifytest"
)

func failureAlert() connecthub.Alert {
	started := time.Date(2030, 5, 1, 2, 0, 0, 0, time.UTC)
	finished := started.Add(95 * time.Second)
	return connecthub.Alert{Event: connecthub.EventFailure, JobID: "payroll.monthly", RunID: "01HRUN", Status: "FAILURE",
		Trigger: "cron", Node: "node-a", StartedAt: &started, FinishedAt: &finished, Duration: connecthub.Duration(95 * time.Second),
		Error: "connection refused\npassword=******", RuleName: "payroll failures", Failures: 2}
}

func channel(typ, url, lang string) *connecthub.Channel {
	base, query, _ := connecthub.SplitChannelURL(url)
	return &connecthub.Channel{Name: "c", Type: typ, Language: lang, URL: connecthub.MaskedURL(base, query)}
}

func target(typ, url, lang, secret string) Target {
	_, query, _ := connecthub.SplitChannelURL(url)
	return Target{Channel: channel(typ, url, lang), Secret: connecthub.ChannelSecret{Query: query, Secret: secret}}
}

func TestChatChannelsSignAsDocumented(t *testing.T) {
	t.Parallel()
	s := NewSender(SenderConfig{PublicURL: "https://hub.example.com/", Location: time.FixedZone("CST", 8*3600)})
	ding := notifytest.DingTalk(t, "tok123", "SECabc")
	feishu := notifytest.Feishu(t, "fs-secret")
	hook := notifytest.Webhook(t, "wh-secret")
	wecom := notifytest.NewReceiver(t, func(_ *http.Request, b []byte) (bool, string) {
		var m struct {
			MsgType  string `json:"msgtype"`
			Markdown struct{ Content string }
		}
		if json.Unmarshal(b, &m) != nil || m.MsgType != "markdown" || m.Markdown.Content == "" {
			return false, `{"errcode":40008,"errmsg":"invalid message type"}`
		}
		return true, `{"errcode":0,"errmsg":"ok"}`
	})
	slack := notifytest.NewReceiver(t, func(_ *http.Request, b []byte) (bool, string) {
		var m struct {
			Text   string           `json:"text"`
			Blocks []map[string]any `json:"blocks"`
		}
		if json.Unmarshal(b, &m) != nil || m.Text == "" || len(m.Blocks) < 2 {
			return false, "invalid_blocks"
		}
		return true, "ok"
	})
	cases := []struct {
		name     string
		t        Target
		rc       *notifytest.Receiver
		ok       bool
		contains string
	}{
		{"dingtalk signed", target(connecthub.ChannelDingTalk, ding.URL+"/robot/send?access_token=tok123", "zh-CN", "SECabc"), ding, true, "任务 payroll.monthly 执行失败"},
		{"dingtalk wrong secret", target(connecthub.ChannelDingTalk, ding.URL+"/robot/send?access_token=tok123", "zh-CN", "SECwrong"), ding, false, ""},
		{"dingtalk unsigned", target(connecthub.ChannelDingTalk, ding.URL+"/robot/send?access_token=tok123", "en", ""), ding, false, ""},
		{"feishu signed", target(connecthub.ChannelFeishu, feishu.URL+"/open-apis/bot/v2/hook/abc", "en", "fs-secret"), feishu, true, "Job payroll.monthly failed"},
		{"feishu wrong secret", target(connecthub.ChannelFeishu, feishu.URL+"/open-apis/bot/v2/hook/abc", "en", "nope"), feishu, false, ""},
		{"webhook signed", target(connecthub.ChannelWebhook, hook.URL+"/hook", "en", "wh-secret"), hook, true, `"job_id":"payroll.monthly"`},
		{"webhook wrong secret", target(connecthub.ChannelWebhook, hook.URL+"/hook", "en", "other"), hook, false, ""},
		{"wecom", target(connecthub.ChannelWeCom, wecom.URL+"/cgi-bin/webhook/send?key=k1", "zh-CN", ""), wecom, true, "连续失败次数"},
		{"slack", target(connecthub.ChannelSlack, slack.URL+"/services/T/B/X", "en", ""), slack, true, `"type":"header"`},
	}
	for _, c := range cases {
		before := len(c.rc.Messages())
		answer, err := s.Deliver(t.Context(), c.t, failureAlert())
		if (err == nil) != c.ok {
			t.Errorf("%s: Deliver = %q, %v; want ok=%v", c.name, answer, err, c.ok)
			continue
		}
		if !c.ok {
			if msgs := c.rc.Messages(); len(msgs) != before {
				t.Errorf("%s: the receiver accepted a bad request", c.name)
			}
			if err != nil && (strings.Contains(err.Error(), "tok123") || (c.t.Secret.Secret != "" && strings.Contains(err.Error(), c.t.Secret.Secret))) {
				t.Errorf("%s: the error shows a secret: %v", c.name, err)
			}
			continue
		}
		msgs := c.rc.Messages()
		last := msgs[len(msgs)-1]
		if !strings.Contains(string(last.Raw), c.contains) {
			t.Errorf("%s: the message lacks %q: %s", c.name, c.contains, last.Raw)
		}
		if !strings.Contains(string(last.Raw), "https://hub.example.com/admin/runs/01HRUN") {
			t.Errorf("%s: the message does not link to the run: %s", c.name, last.Raw)
		}
		if strings.Contains(answer, "tok123") {
			t.Errorf("%s: the recorded answer shows the token: %q", c.name, answer)
		}
	}
}

func TestEmailOverSMTP(t *testing.T) {
	t.Parallel()
	cert, roots := notifytest.Cert(t)
	s := NewSender(SenderConfig{TLSConfig: &tls.Config{RootCAs: roots}, PublicURL: "https://hub.example.com"})
	cases := []struct {
		name     string
		mode     string
		implicit bool
		password string
		ok       bool
	}{
		{"starttls with auth", connecthub.SMTPStartTLS, false, "pw-1234", true},
		{"implicit tls with auth", connecthub.SMTPImplicit, true, "pw-1234", true},
		{"plain to localhost", connecthub.SMTPNone, false, "pw-1234", true},
		{"wrong password", connecthub.SMTPStartTLS, false, "bad-pass", false},
	}
	for _, c := range cases {
		srv := notifytest.NewSMTPServer(t, cert, c.implicit, "ops", "pw-1234")
		ch := &connecthub.Channel{Name: "mail", Type: connecthub.ChannelEmail, Language: "zh-CN", SMTP: &connecthub.ChannelSMTP{
			Host: "127.0.0.1", Port: srv.Port(), Username: "ops", From: "ConnectHub <hub@example.com>",
			To: []string{"a@example.com", "b@example.com"}, TLS: c.mode}}
		answer, err := s.Deliver(t.Context(), Target{Channel: ch, Secret: connecthub.ChannelSecret{Password: c.password}}, failureAlert())
		if (err == nil) != c.ok {
			t.Errorf("%s: Deliver = %q, %v", c.name, answer, err)
			continue
		}
		if !c.ok {
			if strings.Contains(err.Error(), c.password) {
				t.Errorf("%s: the error shows the password: %v", c.name, err)
			}
			continue
		}
		msgs := srv.Messages()
		if len(msgs) != 1 {
			t.Fatalf("%s: the server got %d messages", c.name, len(msgs))
		}
		m := msgs[0]
		if m.From != "hub@example.com" || len(m.To) != 2 || !m.Authed || m.TLS != (c.mode != connecthub.SMTPNone) {
			t.Errorf("%s: envelope %+v", c.name, m)
		}
		parsed, err := mail.ReadMessage(strings.NewReader(m.Data))
		if err != nil {
			t.Fatalf("%s: the message does not parse: %v", c.name, err)
		}
		subject, _ := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
		if subject != "❌ 任务 payroll.monthly 执行失败" {
			t.Errorf("%s: subject %q", c.name, subject)
		}
		if ct := parsed.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
			t.Errorf("%s: content type %q", c.name, ct)
		}
		if !strings.Contains(m.Data, "text/html") || !strings.Contains(m.Data, "text/plain") {
			t.Errorf("%s: the mail lacks its text or HTML part", c.name)
		}
	}
}

func TestStartTLSRequired(t *testing.T) {
	t.Parallel()
	cert, _ := notifytest.Cert(t)
	srv := notifytest.NewSMTPServer(t, cert, false, "", "")
	// A client that trusts nothing fails the handshake: STARTTLS is never
	// silently skipped.
	s := NewSender(SenderConfig{TLSConfig: &tls.Config{}})
	ch := &connecthub.Channel{Name: "mail", Type: connecthub.ChannelEmail, SMTP: &connecthub.ChannelSMTP{
		Host: "127.0.0.1", Port: srv.Port(), From: "hub@example.com", To: []string{"a@example.com"}, TLS: connecthub.SMTPStartTLS}}
	if _, err := s.Deliver(t.Context(), Target{Channel: ch}, failureAlert()); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("an untrusted certificate was accepted: %v", err)
	}
	if len(srv.Messages()) != 0 {
		t.Fatalf("mail went out without TLS")
	}
}
