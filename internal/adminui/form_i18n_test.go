package adminui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestJobFormInChinese: the handler's description and its schema's help
// texts come from the handler's translation, and the API's validation
// messages are chosen by error code, so a Chinese reader sees no English
// sentence; English keeps the API's own, more precise messages.
func TestJobFormInChinese(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	b := e.browser()
	b.login()
	b.get("/admin/lang?to=zh-CN&next=/admin/")

	p := b.get("/admin/jobs/new?handler=test.schema")
	for _, w := range []string{"带配置结构的处理器，用于测试。", "发送到哪里。"} {
		if !strings.Contains(p.body, w) {
			t.Errorf("the zh-CN form lacks %q", w)
		}
	}
	for _, en := range []string{"A handler with a schema, for tests.", "Where to send it.", "must be a JSON object"} {
		if strings.Contains(p.body, en) {
			t.Errorf("the zh-CN form shows English %q", en)
		}
	}

	base := url.Values{"id": {"zh.job"}, "handler": {"test.schema"}, "enabled": {"true"}, "timezone": {"UTC"},
		"cron_expr": {"*/5 * * * *"}, "public_cfg": {`{"url":"http://x"}`}, "secret_cfg": {`{"api_key":"k"}`},
		"concurrency": {"forbid"}, "misfire": {"once"}}
	with := func(kv ...string) url.Values { return formWith(base, kv...) }
	for _, tc := range []struct {
		name        string
		form        url.Values
		zh, english string
	}{
		{"bad timezone", with("timezone", "Mars/Olympus"), `未知时区 "Mars/Olympus"`, "unknown timezone"},
		{"bad cron", with("cron_expr", "61 * * * *"), `Cron 表达式 "61 * * * *" 无效`, "out of range"},
		{"bad id", with("id", "no spaces"), "任务 ID 必填", "id must be"},
		{"not a number", with("max_attempts", "three"), "最大尝试次数必须是 1 到 100 之间的整数", "must be an integer"},
		{"not JSON", with("public_cfg", `{"url": `), "public_cfg 必须是一个 JSON 对象", "must be a JSON object"},
		{"schema", with("public_cfg", `{"batch": 3}`), "不符合处理器的配置结构", "does not match"},
		{"missing secret", with("secret_cfg", `{"other":"x"}`), "secret_cfg 缺少处理器需要的密钥", "missing key"},
		{"unknown handler", with("handler", "no.such"), `没有名为 "no.such" 的处理器`, "unknown handler"},
	} {
		p := b.post("/admin/jobs", tc.form)
		if p.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422", tc.name, p.status)
			continue
		}
		body := strings.ReplaceAll(p.body, "&#34;", `"`)
		if !strings.Contains(body, tc.zh) {
			t.Errorf("%s: the page lacks %q", tc.name, tc.zh)
		}
		if strings.Contains(strings.ToLower(p.body), strings.ToLower(tc.english)) {
			t.Errorf("%s: the zh-CN page shows the English message (%q)", tc.name, tc.english)
		}
	}
}
