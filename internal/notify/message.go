package notify

import (
	"fmt"
	"html"
	"net/url"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
)

// Field is one labelled line of a message.
type Field struct {
	Label, Value string
}

// Message is an alert rendered in one language, ready to be formatted for
// a channel: chat markdown, Slack blocks, or text and HTML mail.
type Message struct {
	Title  string
	Fields []Field
	// ErrorLabel and Error are the error's first lines (masked when the
	// run stored them), shown as a code block.
	ErrorLabel, Error string
	// Link is the run's (or job's) page, "" without a public URL.
	Link, LinkText string
}

type catalog struct {
	titles                                                               map[string]string
	job, run, status, trigger, node, duration, scheduled, failures, rule string
	errLabel, open, threshold                                            string
}

var catalogs = map[string]catalog{
	"en": {
		titles: map[string]string{
			connecthub.EventFailure:     "❌ Job %s failed",
			connecthub.EventRecovery:    "✅ Job %s recovered",
			connecthub.EventMissed:      "⏰ Job %s missed a scheduled run",
			connecthub.EventLongRunning: "🐢 Job %s is running long",
			connecthub.EventWorkerLost:  "⚠️ A run of job %s lost its worker",
			connecthub.EventNodeDown:    "🔌 Node %s is down",
			connecthub.EventTest:        "🔔 ConnectHub test message%s",
		},
		job: "Job", run: "Run", status: "Status", trigger: "Trigger", node: "Node", duration: "Duration",
		scheduled: "Scheduled for", failures: "Failures in a row", rule: "Rule", errLabel: "Error",
		open: "Open in ConnectHub", threshold: "Threshold",
	},
	"zh-CN": {
		titles: map[string]string{
			connecthub.EventFailure:     "❌ 任务 %s 执行失败",
			connecthub.EventRecovery:    "✅ 任务 %s 已恢复",
			connecthub.EventMissed:      "⏰ 任务 %s 错过了计划执行",
			connecthub.EventLongRunning: "🐢 任务 %s 运行时间过长",
			connecthub.EventWorkerLost:  "⚠️ 任务 %s 的运行丢失了执行节点",
			connecthub.EventNodeDown:    "🔌 节点 %s 已下线",
			connecthub.EventTest:        "🔔 ConnectHub 测试消息%s",
		},
		job: "任务", run: "运行", status: "状态", trigger: "触发方式", node: "节点", duration: "耗时",
		scheduled: "计划时间", failures: "连续失败次数", rule: "规则", errLabel: "错误",
		open: "在 ConnectHub 中查看", threshold: "阈值",
	},
}

// Render turns an alert into a message in lang ("en" or "zh-CN"), with
// times in loc and links under publicURL (the address operators reach
// the server at; empty for no link).
func Render(al connecthub.Alert, lang, publicURL string, loc *time.Location) Message {
	c, ok := catalogs[lang]
	if !ok {
		c = catalogs["en"]
	}
	if loc == nil {
		loc = time.UTC
	}
	subject := al.JobID
	if al.Event == connecthub.EventNodeDown {
		subject = al.Node
	}
	if al.Event == connecthub.EventTest {
		subject = ""
		if al.RuleName != "" {
			subject = " · " + al.RuleName
		}
	}
	m := Message{Title: fmt.Sprintf(c.titles[al.Event], subject), ErrorLabel: c.errLabel, Error: al.Error, LinkText: c.open}
	if m.Title == "" || strings.HasPrefix(m.Title, "%!") {
		m.Title = al.Event + " " + subject
	}
	add := func(label, value string) {
		if value != "" {
			m.Fields = append(m.Fields, Field{label, value})
		}
	}
	add(c.job, al.JobID)
	add(c.run, al.RunID)
	add(c.status, al.Status)
	add(c.trigger, al.Trigger)
	add(c.node, al.Node)
	if al.Duration > 0 {
		add(c.duration, al.Duration.D().Round(time.Second).String())
	}
	if al.ScheduledFor != nil {
		add(c.scheduled, al.ScheduledFor.In(loc).Format("2006-01-02 15:04:05 -07:00"))
	}
	if al.Failures > 1 {
		add(c.failures, fmt.Sprint(al.Failures))
	}
	if al.Event != connecthub.EventTest {
		add(c.rule, al.RuleName)
		if al.Event == connecthub.EventLongRunning || al.Event == connecthub.EventMissed {
			add(c.threshold, al.Threshold)
		}
	}
	if base := strings.TrimRight(publicURL, "/"); base != "" {
		switch {
		case al.RunID != "":
			m.Link = base + "/admin/runs/" + url.PathEscape(al.RunID)
		case al.JobID != "":
			m.Link = base + "/admin/jobs/" + url.PathEscape(al.JobID) + "/edit"
		case al.Node != "":
			m.Link = base + "/admin/nodes"
		default:
			m.Link = base + "/admin/"
		}
	}
	return m
}

// Markdown formats the message as chat markdown (DingTalk, WeCom and
// Feishu all read this subset: headings, bold, lists, code and links).
func (m Message) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n", m.Title)
	for _, f := range m.Fields {
		fmt.Fprintf(&b, "- **%s**: %s\n", f.Label, f.Value)
	}
	if m.Error != "" {
		fmt.Fprintf(&b, "\n**%s**:\n```\n%s\n```\n", m.ErrorLabel, m.Error)
	}
	if m.Link != "" {
		fmt.Fprintf(&b, "\n[%s](%s)\n", m.LinkText, m.Link)
	}
	return b.String()
}

// Text formats the message as plain text (email's text part, webhooks).
func (m Message) Text() string {
	var b strings.Builder
	b.WriteString(m.Title + "\n\n")
	for _, f := range m.Fields {
		fmt.Fprintf(&b, "%s: %s\n", f.Label, f.Value)
	}
	if m.Error != "" {
		fmt.Fprintf(&b, "\n%s:\n%s\n", m.ErrorLabel, m.Error)
	}
	if m.Link != "" {
		fmt.Fprintf(&b, "\n%s: %s\n", m.LinkText, m.Link)
	}
	return b.String()
}

// HTML formats the message as an HTML mail body; every value is escaped.
func (m Message) HTML() string {
	e := html.EscapeString
	var b strings.Builder
	fmt.Fprintf(&b, "<!doctype html><html><body style=\"font-family:sans-serif\"><h2>%s</h2><table>", e(m.Title))
	for _, f := range m.Fields {
		fmt.Fprintf(&b, "<tr><th align=\"left\">%s</th><td>%s</td></tr>", e(f.Label), e(f.Value))
	}
	b.WriteString("</table>")
	if m.Error != "" {
		fmt.Fprintf(&b, "<h3>%s</h3><pre>%s</pre>", e(m.ErrorLabel), e(m.Error))
	}
	if m.Link != "" {
		fmt.Fprintf(&b, "<p><a href=\"%s\">%s</a></p>", e(m.Link), e(m.LinkText))
	}
	b.WriteString("</body></html>")
	return b.String()
}
