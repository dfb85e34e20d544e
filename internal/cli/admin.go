package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/cron"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/server"
	"github.com/connecthub/connecthub/internal/timefmt"
)

func newHealthcheckCmd(env *Env) *cobra.Command {
	var url string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 if the server's /health/ready answers 200, else 1 (for Docker HEALTHCHECK)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" {
				url = "http://" + server.DisplayAddr(cmp.Or(env.Getenv("CONNECTHUB_LISTEN"), ":8000")) + "/health/ready"
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			var bad *client.ErrBadProbeURL
			if err := client.Probe(ctx, url); errors.As(err, &bad) {
				return usageError("--url %q: %v", url, bad.Err)
			} else if err != nil {
				return fmt.Errorf("unhealthy: %v", err)
			}
			return say(env, "ok")
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "URL to probe (default http://127.0.0.1:<port of CONNECTHUB_LISTEN>/health/ready)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "give up after this long")
	return cmd
}

func newVersionCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(_ *cobra.Command, _ []string) {
			fmt.Fprintf(env.Stdout, "connecthub %s\n", connecthub.Version)
		},
	}
}

func newCronCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "cron", Short: "Cron expression tools"}
	var tz, after, calName, calMode string
	var n int
	var cf clientFlags
	next := &cobra.Command{
		Use:   "next EXPR",
		Short: "Print the next fire times of a cron expression, one RFC 3339 time with its offset per line",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if calName != "" || calMode != "" {
				from, err := timeFlag("after", after)
				if err != nil {
					return err
				}
				req := client.CronPreviewRequest{Expr: args[0], TZ: tz, N: n, After: from, Calendar: calName, Mode: calMode}
				return cronNextOnServer(env, &cf, &req)(cmd, args)
			}
			sched, err := cron.Parse(args[0])
			if err != nil {
				return err
			}
			tz = cmp.Or(tz, defaultTimezone(env))
			loc, err := time.LoadLocation(tz)
			if err != nil || strings.EqualFold(tz, "local") {
				return usageError("--tz %q: unknown timezone (use an IANA name like Asia/Shanghai)", tz)
			}
			if n < 1 || n > 1000 {
				return usageError("-n must be between 1 and 1000")
			}
			from, err := timeFlag("after", after)
			if err != nil {
				return err
			}
			times := sched.NextN(cmp.Or(from, time.Now()), loc, n)
			if len(times) == 0 {
				return fmt.Errorf("%q never fires", args[0])
			}
			for _, t := range times {
				// Always the numeric offset: "+00:00" for London in winter,
				// where "Z" would read as if --tz had been ignored.
				fmt.Fprintln(env.Stdout, timefmt.RFC3339(t, loc))
			}
			return nil
		},
	}
	next.Flags().StringVar(&tz, "tz", "", "IANA timezone (default CONNECTHUB_TIMEZONE or Asia/Shanghai)")
	next.Flags().IntVarP(&n, "n", "n", 5, "how many times")
	next.Flags().StringVar(&after, "after", "", "start after this RFC 3339 time (default now)")
	next.Flags().StringVar(&calName, "calendar", "", "only the slots this calendar lets through (asks the server, which has the calendars)")
	next.Flags().StringVar(&calMode, "calendar-mode", "", "workdays (default) or skip_holidays")
	cf.register(next)
	cmd.AddCommand(next)
	return cmd
}

// timeFlag reads a time flag, an RFC 3339 time; the zero time when it
// is "".
func timeFlag(flag, v string) (t time.Time, err error) {
	if v != "" {
		if t, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return t, usageError("--%s %q: must be an RFC 3339 time like 2026-01-02T15:04:05+08:00", flag, v)
		}
	}
	return t, nil
}

func newKeygenCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "Print a new Fernet key (for CONNECTHUB_FERNET_KEY_PATH files and key rotation)",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			k, err := secret.GenerateKey()
			if err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, k)
			return nil
		},
	}
}
