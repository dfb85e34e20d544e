package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/connecthub/connecthub"
)

// Headers of a signed webhook: the Unix time in seconds, and
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
const (
	HeaderTimestamp = "X-ConnectHub-Timestamp"
	HeaderSignature = "X-ConnectHub-Signature"
)

// maxResponse bounds how much of a receiver's answer the log keeps.
const maxResponse = 512

// Target is a channel with its write-only parts decrypted, held in memory
// only while a message is sent.
type Target struct {
	Channel *connecthub.Channel
	Secret  connecthub.ChannelSecret
}

// endpoint is the full URL: the shown base with the secret query.
func (t Target) endpoint() (string, error) {
	base, _, err := connecthub.SplitChannelURL(t.Channel.URL)
	if err != nil {
		return "", err
	}
	if t.Secret.Query != "" {
		return base + "?" + t.Secret.Query, nil
	}
	return base, nil
}

// secrets are the values that must never appear in a recorded answer.
func (t Target) secrets() []string {
	out := []string{t.Secret.Secret, t.Secret.Password}
	if vals, err := url.ParseQuery(t.Secret.Query); err == nil {
		for _, vs := range vals {
			out = append(out, vs...)
		}
	}
	return out
}

// clean masks the target's secrets in a text that is about to be stored.
func (t Target) clean(s string) string {
	for _, v := range t.secrets() {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, connecthub.MaskedValue)
			s = strings.ReplaceAll(s, url.QueryEscape(v), connecthub.MaskedValue)
		}
	}
	if len(s) > maxResponse {
		s = s[:maxResponse] + "…"
	}
	return s
}

// DingTalkSign is a DingTalk custom robot's signature: HMAC-SHA256 keyed
// by the secret over timestamp (milliseconds) + "\n" + secret, in base64.
// The URL carries it query-escaped.
func DingTalkSign(timestampMillis int64, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestampMillis, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// FeishuSign is a Feishu custom bot's signature, which differs from
// DingTalk's: timestamp (seconds) + "\n" + secret is the HMAC-SHA256 key,
// the message is empty, and the base64 result goes in the JSON body.
func FeishuSign(timestampSeconds int64, secret string) string {
	mac := hmac.New(sha256.New, []byte(strconv.FormatInt(timestampSeconds, 10)+"\n"+secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// WebhookSign is the signature of a ConnectHub webhook.
func WebhookSign(timestampSeconds int64, secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestampSeconds, 10) + "."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// postJSON sends body and returns the receiver's answer as recorded:
// "HTTP <code> <body>". An error means the delivery failed; its text is
// safe to store (no URL, no secret).
func (s *Sender) postJSON(ctx context.Context, t Target, rawURL string, header http.Header, body any, accept func(code int, body []byte) error) (string, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(b))
	if err != nil {
		return "", errors.New("the channel's url is not valid")
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "ConnectHub-Notify/1")
	for k, v := range header {
		req.Header[k] = v
	}
	if t.Channel.Type == connecthub.ChannelWebhook && t.Secret.Secret != "" {
		ts := s.now().Unix()
		req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(HeaderSignature, WebhookSign(ts, t.Secret.Secret, b))
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // its text repeats the URL, access token and all
			err = ue.Err
		}
		return "", errors.New(t.clean(err.Error()))
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	answer := t.clean(strings.TrimSpace(fmt.Sprintf("HTTP %d %s", resp.StatusCode, data)))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return answer, errors.New(answer)
	}
	if accept != nil {
		if err := accept(resp.StatusCode, data); err != nil {
			return answer, fmt.Errorf("%s (%v)", answer, err)
		}
	}
	return answer, nil
}

// codeIsZero accepts a chat robot's JSON answer whose error code field is
// 0 (DingTalk and WeCom: errcode; Feishu: code, or StatusCode in older
// answers). The robots answer HTTP 200 with a non-zero code on errors
// such as a bad signature.
func codeIsZero(fields ...string) func(int, []byte) error {
	return func(_ int, body []byte) error {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return errors.New("the answer is not JSON")
		}
		for _, f := range fields {
			if v, ok := m[f]; ok {
				if n, ok := v.(float64); ok && n == 0 {
					return nil
				}
				return fmt.Errorf("%s %v", f, v)
			}
		}
		return errors.New("the answer has no error code")
	}
}

func (s *Sender) sendDingTalk(ctx context.Context, t Target, m Message) (string, error) {
	u, err := t.endpoint()
	if err != nil {
		return "", err
	}
	if t.Secret.Secret != "" {
		ts := s.now().UnixMilli()
		u += sep(u) + "timestamp=" + strconv.FormatInt(ts, 10) + "&sign=" + url.QueryEscape(DingTalkSign(ts, t.Secret.Secret))
	}
	body := map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": m.Title, "text": m.Markdown()}}
	return s.postJSON(ctx, t, u, nil, body, codeIsZero("errcode"))
}

func (s *Sender) sendWeCom(ctx context.Context, t Target, m Message) (string, error) {
	u, err := t.endpoint()
	if err != nil {
		return "", err
	}
	body := map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": m.Markdown()}}
	return s.postJSON(ctx, t, u, nil, body, codeIsZero("errcode"))
}

func (s *Sender) sendFeishu(ctx context.Context, t Target, m Message) (string, error) {
	u, err := t.endpoint()
	if err != nil {
		return "", err
	}
	rest := m
	rest.Title = ""
	content := strings.TrimPrefix(rest.Markdown(), "### \n\n")
	body := map[string]any{
		"msg_type": "interactive",
		"card": map[string]any{
			"header":   map[string]any{"title": map[string]string{"tag": "plain_text", "content": m.Title}, "template": "red"},
			"elements": []any{map[string]string{"tag": "markdown", "content": content}},
		},
	}
	if t.Secret.Secret != "" {
		ts := s.now().Unix()
		body["timestamp"] = strconv.FormatInt(ts, 10)
		body["sign"] = FeishuSign(ts, t.Secret.Secret)
	}
	return s.postJSON(ctx, t, u, nil, body, codeIsZero("code", "StatusCode"))
}

func (s *Sender) sendSlack(ctx context.Context, t Target, m Message) (string, error) {
	u, err := t.endpoint()
	if err != nil {
		return "", err
	}
	var fields []any
	for _, f := range m.Fields {
		fields = append(fields, map[string]string{"type": "mrkdwn", "text": "*" + f.Label + "*\n" + f.Value})
	}
	blocks := []any{map[string]any{"type": "header", "text": map[string]string{"type": "plain_text", "text": m.Title}}}
	for len(fields) > 0 { // a section holds at most 10 fields
		n := min(len(fields), 10)
		blocks = append(blocks, map[string]any{"type": "section", "fields": fields[:n]})
		fields = fields[n:]
	}
	if m.Error != "" {
		blocks = append(blocks, map[string]any{"type": "section",
			"text": map[string]string{"type": "mrkdwn", "text": "*" + m.ErrorLabel + "*\n```" + m.Error + "```"}})
	}
	if m.Link != "" {
		blocks = append(blocks, map[string]any{"type": "context",
			"elements": []any{map[string]string{"type": "mrkdwn", "text": "<" + m.Link + "|" + m.LinkText + ">"}}})
	}
	return s.postJSON(ctx, t, u, nil, map[string]any{"text": m.Title, "blocks": blocks}, nil)
}

func (s *Sender) sendWebhook(ctx context.Context, t Target, m Message, al connecthub.Alert) (string, error) {
	u, err := t.endpoint()
	if err != nil {
		return "", err
	}
	body := map[string]any{"event": al.Event, "title": m.Title, "text": m.Text(), "link": m.Link, "alert": al}
	return s.postJSON(ctx, t, u, nil, body, nil)
}

func sep(u string) string {
	if strings.Contains(u, "?") {
		return "&"
	}
	return "?"
}

// Deliver sends one alert to one target and returns the receiver's
// answer. It is what the sender calls for each notification, and what
// "send test" calls through the outbox.
func (s *Sender) Deliver(ctx context.Context, t Target, al connecthub.Alert) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	m := Render(al, t.Channel.Language, s.cfg.PublicURL, s.cfg.Location)
	switch t.Channel.Type {
	case connecthub.ChannelWebhook:
		return s.sendWebhook(ctx, t, m, al)
	case connecthub.ChannelDingTalk:
		return s.sendDingTalk(ctx, t, m)
	case connecthub.ChannelWeCom:
		return s.sendWeCom(ctx, t, m)
	case connecthub.ChannelFeishu:
		return s.sendFeishu(ctx, t, m)
	case connecthub.ChannelSlack:
		return s.sendSlack(ctx, t, m)
	case connecthub.ChannelEmail:
		return s.sendEmail(ctx, t, m)
	}
	return "", fmt.Errorf("channel type %q cannot be sent", t.Channel.Type)
}
