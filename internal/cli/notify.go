package cli

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
)

// newNotifyCmd manages notification channels and alert rules, sends test
// messages and shows the delivery log, through the API.
func newNotifyCmd(env *Env) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: "notify", Short: "Notification channels, alert rules, test messages and the delivery log"}
	cf.register(cmd)

	wait := 30 * time.Second
	test := &cobra.Command{
		Use: "test CHANNEL", Short: "Send a test message to a channel and wait for the receiver's answer", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			n, err := c.TestChannel(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			deadline := time.Now().Add(wait)
			for n.Status == connecthub.DeliveryPending && len(n.History) == 0 && time.Now().Before(deadline) {
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(200 * time.Millisecond):
				}
				if n, err = c.GetNotification(cmd.Context(), n.ID); err != nil {
					return err
				}
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
		},
	}
	test.Flags().DurationVar(&wait, "wait", wait, "how long to wait for the first delivery attempt")

	cmd.AddCommand(test, newNotifyChannelsCmd(env, &cf), newNotifyRulesCmd(env, &cf), newNotifyLogCmd(env, &cf))
	return cmd
}

func newNotifyChannelsCmd(env *Env, cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "channels", Short: "List, create and delete channels"}
	cmd.AddCommand(&cobra.Command{
		Use: "list", Short: "List channels", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			list, err := c.ListChannels(cmd.Context())
			if err != nil {
				return err
			}
			if cf.asJSON {
				return writeJSONOut(env, map[string]any{"channels": nonNil(list)})
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTYPE\tLANGUAGE\tSECRET\tTARGET")
			for _, ch := range list {
				target := ch.URL
				if ch.SMTP != nil {
					target = fmt.Sprintf("smtp %s:%d (%s) → %s", ch.SMTP.Host, ch.SMTP.Port, ch.SMTP.TLS, strings.Join(ch.SMTP.To, ","))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", ch.Name, ch.Type, ch.Language, ch.HasSecret, target)
			}
			return tw.Flush()
		},
	})
	cmd.AddCommand(createCmd(env, cf, "channel", func(c clientCall, body []byte) (any, string, error) {
		ch, err := c.client.CreateChannel(c.cmd.Context(), body)
		if err != nil {
			return nil, "", err
		}
		return ch, "created channel " + ch.Name, nil
	}))
	cmd.AddCommand(deleteCmd(env, cf, "NAME", "channel", func(c clientCall, name string) error {
		return c.client.DeleteChannel(c.cmd.Context(), name)
	}))
	return cmd
}

func newNotifyRulesCmd(env *Env, cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "rules", Short: "List, create and delete alert rules"}
	cmd.AddCommand(&cobra.Command{
		Use: "list", Short: "List alert rules", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			list, err := c.ListAlertRules(cmd.Context())
			if err != nil {
				return err
			}
			if cf.asJSON {
				return writeJSONOut(env, map[string]any{"alert_rules": nonNil(list)})
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tENABLED\tEVENT\tTHRESHOLD\tMATCH\tCHANNELS\tQUIET")
			for _, r := range list {
				fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Name, r.Enabled, r.Event, dash(r.Threshold),
					matchSummary(r.Match), strings.Join(r.Channels, ","), r.QuietPeriod)
			}
			return tw.Flush()
		},
	})
	cmd.AddCommand(createCmd(env, cf, "alert rule", func(c clientCall, body []byte) (any, string, error) {
		r, err := c.client.CreateAlertRule(c.cmd.Context(), body)
		if err != nil {
			return nil, "", err
		}
		return r, "created alert rule " + r.ID + " (" + r.Name + ")", nil
	}))
	cmd.AddCommand(deleteCmd(env, cf, "ID", "alert rule", func(c clientCall, id string) error {
		return c.client.DeleteAlertRule(c.cmd.Context(), id)
	}))
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

func newNotifyLogCmd(env *Env, cf *clientFlags) *cobra.Command {
	var channel, event, status, job string
	var limit int
	cmd := &cobra.Command{
		Use: "log", Short: "Show the delivery log, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"channel": channel, "event": event, "status": status, "job_id": job} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			page, err := c.ListNotifications(cmd.Context(), q)
			if err != nil {
				return err
			}
			if cf.asJSON {
				page.Notifications = nonNil(page.Notifications)
				return writeJSONOut(env, page)
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCREATED\tCHANNEL\tEVENT\tJOB\tSTATUS\tATTEMPTS\tLAST ANSWER")
			for _, n := range page.Notifications {
				last := "-"
				if len(n.History) > 0 {
					last = n.History[len(n.History)-1].Response
				}
				created := n.CreatedAt
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", n.ID, fmtTime(env, &created, ""), n.Channel, n.Event,
					dash(n.JobID), n.Status, n.Attempts, last)
			}
			return tw.Flush()
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&channel, "channel", "", "only this channel")
	fl.StringVar(&event, "event", "", "only this event")
	fl.StringVar(&status, "status", "", "pending, sent or failed")
	fl.StringVar(&job, "job", "", "only this job")
	fl.IntVar(&limit, "limit", 0, "page size")
	return cmd
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// clientCall is what a create or delete command hands its API call.
type clientCall struct {
	cmd    *cobra.Command
	client *client.Client
}

// createCmd is a "create --file DEF.json" command: create makes the
// object and returns it with the line to print.
func createCmd(env *Env, cf *clientFlags, what string, create func(clientCall, []byte) (any, string, error)) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use: "create --file DEF.json", Short: "Create a " + what + " from its JSON definition (docs/notifications.md)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return usageError("--file is required: the %s's JSON definition (a path, or - for stdin)", what)
			}
			body, err := readJSONFile(env, file)
			if err != nil {
				return err
			}
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			v, line, err := create(clientCall{cmd, c}, body)
			if err != nil {
				return err
			}
			if cf.asJSON {
				return writeJSONOut(env, v)
			}
			fmt.Fprintln(env.Stdout, line)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "JSON definition from a file, - for stdin")
	return cmd
}

// deleteCmd is a "delete ARG" command.
func deleteCmd(env *Env, cf *clientFlags, arg, what string, del func(clientCall, string) error) *cobra.Command {
	return &cobra.Command{
		Use: "delete " + arg, Short: "Delete a " + what, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			if err := del(clientCall{cmd, c}, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "deleted %s %s\n", what, args[0])
			return nil
		},
	}
}
