package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
)

// newNotifyCmd manages notification channels and alert rules, sends test
// messages and shows the delivery log, through the API.
func newNotifyCmd(env *Env) *cobra.Command {
	var cf clientFlags
	cmd := cf.group("notify", "Notification channels, alert rules, test messages and the delivery log")

	wait := 30 * time.Second
	test := &cobra.Command{
		Use: "test CHANNEL", Short: "Send a test message to a channel and wait for the receiver's answer", Args: cobra.ExactArgs(1),
		RunE: clientRun(env, &cf, func(a apiCall) error {
			args := a.args
			n, err := a.c.TestChannel(a.ctx, args[0])
			if err != nil {
				return err
			}
			if n, err = a.c.Notifications.WaitAttempt(a.ctx, n, wait, 200*time.Millisecond); err != nil {
				return err
			}
			if cf.asJSON {
				if err := writeJSONOut(env, n); err != nil {
					return err
				}
			}
			switch {
			case n.Status == connecthub.DeliverySent:
				if !cf.asJSON {
					fmt.Fprintf(env.Stdout, "sent to %s: %s\n", args[0], n.History[len(n.History)-1].Response)
				}
				return nil
			case len(n.History) > 0:
				return fmt.Errorf("channel %s did not accept the test message: %s (notification %s; it is retried with back-off)",
					args[0], n.History[len(n.History)-1].Response, n.ID)
			default:
				return fmt.Errorf("the test message to %s was not sent within %s (notification %s is still pending; is a serve running?)", args[0], wait, n.ID)
			}
		}),
	}
	test.Flags().DurationVar(&wait, "wait", wait, "how long to wait for the first delivery attempt")

	channels := &cobra.Command{Use: "channels", Short: "List, create and delete channels"}
	channels.AddCommand(listCmd(env, &cf, "List channels", "channels", (*client.Client).ListChannels, "",
		"NAME\tTYPE\tLANGUAGE\tSECRET\tTARGET", func(ch connecthub.Channel) []any {
			target := ch.URL
			if ch.SMTP != nil {
				target = fmt.Sprintf("smtp %s:%d (%s) → %s", ch.SMTP.Host, ch.SMTP.Port, ch.SMTP.TLS, strings.Join(ch.SMTP.To, ","))
			}
			return []any{ch.Name, ch.Type, ch.Language, ch.HasSecret, target}
		}),
		createCmd(env, &cf, "channel", (*client.Client).CreateChannel, func(ch *connecthub.Channel) string { return "created channel " + ch.Name }),
		actCmd(env, &cf, "delete NAME", "Delete a channel", (*client.Client).DeleteChannel, "deleted channel %s"))

	rules := &cobra.Command{Use: "rules", Short: "List, create and delete alert rules"}
	rules.AddCommand(listCmd(env, &cf, "List alert rules", "alert_rules", (*client.Client).ListAlertRules, "",
		"ID\tNAME\tENABLED\tEVENT\tTHRESHOLD\tMATCH\tCHANNELS\tQUIET", func(r connecthub.AlertRule) []any {
			return []any{r.ID, r.Name, r.Enabled, r.Event, dash(r.Threshold), matchSummary(r.Match), strings.Join(r.Channels, ","), r.QuietPeriod}
		}),
		createCmd(env, &cf, "alert rule", (*client.Client).CreateAlertRule, func(r *connecthub.AlertRule) string {
			return "created alert rule " + r.ID + " (" + r.Name + ")"
		}),
		actCmd(env, &cf, "delete ID", "Delete a alert rule", (*client.Client).DeleteAlertRule, "deleted alert rule %s"))

	var nf client.NotificationFilter
	log := &cobra.Command{Use: "log", Short: "Show the delivery log, newest first", Args: cobra.NoArgs,
		RunE: apiCmd(env, &cf, func(a apiCall) (*client.NotificationList, error) {
			page, err := a.c.Notifications.List(a.ctx, nf)
			if page != nil {
				page.Notifications = nonNil(page.Notifications)
			}
			return page, err
		}, func(_ apiCall, page *client.NotificationList) error {
			return table(env, page.Notifications, "", "ID\tCREATED\tCHANNEL\tEVENT\tJOB\tSTATUS\tATTEMPTS\tLAST ANSWER", func(n connecthub.Notification) []any {
				last := "-"
				if len(n.History) > 0 {
					last = n.History[len(n.History)-1].Response
				}
				return []any{n.ID, fmtTime(env, &n.CreatedAt, ""), n.Channel, n.Event, dash(n.JobID), n.Status, n.Attempts, last}
			})
		})}
	fl := log.Flags()
	fl.StringVar(&nf.Channel, "channel", "", "only this channel")
	fl.StringVar(&nf.Event, "event", "", "only this event")
	fl.StringVar(&nf.Status, "status", "", "pending, sent or failed")
	fl.StringVar(&nf.JobID, "job", "", "only this job")
	fl.IntVar(&nf.Limit, "limit", 0, "page size")

	cmd.AddCommand(test, channels, rules, log)
	return cmd
}

func matchSummary(m connecthub.RuleMatch) string {
	var parts []string
	for _, p := range []struct{ k, v string }{{"job", m.Job}, {"handler", m.Handler}, {"queue", m.Queue}} {
		if p.v != "" {
			parts = append(parts, p.k+"="+p.v)
		}
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, " ")
}

// createCmd is a "create --file DEF.json" command: create makes the
// object from the definition, printed with --json, else as line says.
func createCmd[T any](env *Env, cf *clientFlags, what string, create func(*client.Client, context.Context, json.RawMessage) (*T, error), line func(*T) string) *cobra.Command {
	var file string
	var body json.RawMessage
	cmd := &cobra.Command{
		Use: "create --file DEF.json", Short: "Create a " + what + " from its JSON definition (docs/notifications.md)", Args: cobra.NoArgs,
		RunE: checked(func([]string) (err error) {
			if file == "" {
				return usageError("--file is required: the %s's JSON definition (a path, or - for stdin)", what)
			}
			body, err = readJSONFile(env, file)
			return err
		}, apiCmd(env, cf, func(a apiCall) (*T, error) { return create(a.c, a.ctx, body) }, func(_ apiCall, v *T) error { return say(env, "%s", line(v)) })),
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "JSON definition from a file, - for stdin")
	return cmd
}
