package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// examples are the Example sections of the commands' --help, by command
// path. A command that sets its own Example keeps it; every command needs
// one (TestEveryCommandHasAnExample), because an example is what a person
// copies first.
var examples = map[string]string{
	"connecthub": `  connecthub serve                          # API, scheduler and workers on :8000, data in ./data
  connecthub job list                       # next to a local server, no token needed
  connecthub job run demo.hello -f          # run a job now and follow it to the end`,
	"connecthub serve": `  connecthub serve
  connecthub serve --listen 127.0.0.1:8000 --data-dir /var/lib/connecthub
  CONNECTHUB_WORKERS=0 connecthub serve     # API and scheduler only, remote workers run the jobs`,
	"connecthub migrate": `  connecthub migrate
  connecthub migrate --db-url 'postgres://connecthub:secret@db:5432/connecthub?sslmode=require'`,
	"connecthub healthcheck": `  connecthub healthcheck
  connecthub healthcheck --url http://127.0.0.1:8000/health/ready --timeout 2s`,
	"connecthub config": `  connecthub config
  connecthub config --json | jq '.[] | select(.source != "default")'`,
	"connecthub version": `  connecthub version`,
	"connecthub cron":    `  connecthub cron next "0 2 * * *" --tz Europe/London -n 3`,
	"connecthub cron next": `  connecthub cron next "0 2 * * *"                         # in CONNECTHUB_TIMEZONE
  connecthub cron next "*/15 9-17 * * 1-5" --tz Asia/Shanghai -n 10
  connecthub cron next "@daily" --after 2026-03-28T00:00:00Z --tz Europe/London`,
	"connecthub keygen": `  connecthub keygen >> data/fernet.key      # a new key to rotate to (see secrets rotate)`,
	"connecthub job": `  connecthub job list
  connecthub job create --id demo.hello --handler noop --cron "*/5 * * * *"
  connecthub job run demo.hello -f`,
	"connecthub job list": `  connecthub job list
  connecthub job list --handler httpcall --enabled true
  connecthub job list --q invoices --json`,
	"connecthub job revisions": `  connecthub job revisions demo.hello
  connecthub job revisions demo.hello --limit 10 --json`,
	"connecthub job diff": `  connecthub job diff demo.hello 3 4         # what revision 4 changed
  connecthub job diff demo.hello 1 7 --json`,
	"connecthub job restore": `  connecthub job restore demo.hello 3        # definition and secrets of revision 3
  connecthub job restore old.job 5           # re-creates a deleted job (see job deleted)`,
	"connecthub job deleted": `  connecthub job deleted
  connecthub job deleted --json | jq -r '.jobs[].job_id'`,
	"connecthub job get": `  connecthub job get demo.hello
  connecthub job get demo.hello --json`,
	"connecthub job create": `  # a job that runs every 5 minutes and does nothing (a smoke test)
  connecthub job create --id demo.hello --handler noop --cron "*/5 * * * *"

  # a call with a secret, at 02:00 Shanghai time, two attempts 30s apart
  connecthub job create --id acme.ping --handler httpcall \
    --cron "0 2 * * *" --tz Asia/Shanghai --max-attempts 2 --retry-backoff 30s \
    --config '{"url":"https://api.acme.example/ping?key={{secret.api_key}}"}' \
    --secret '{"api_key":"s3cr3t"}'

  # keep the 200 newest finished runs, none older than 30 days
  connecthub job create --id acme.sync --handler httpcall --keep-runs 200 --keep-for 30d

  # from a file (the API's JSON body)
  connecthub job create --file job.json`,
	"connecthub job update": `  connecthub job update demo.hello --cron "0 * * * *" --timeout 5m
  connecthub job update acme.ping --secret '{"api_key":"n3w"}'
  connecthub job update demo.hello --keep-runs 50 --keep-for 7d   # retention: 0 clears a limit
  echo '{"description":"nightly"}' | connecthub job update demo.hello --file -`,
	"connecthub job run": `  connecthub job run demo.hello             # queue a run, print it
  connecthub job run demo.hello -f          # and follow it: node, log, status, message, error`,
	"connecthub job enable":  `  connecthub job enable demo.hello`,
	"connecthub job disable": `  connecthub job disable demo.hello        # no more cron runs; its runs are kept`,
	"connecthub job delete":  `  connecthub job delete demo.hello --yes    # the job and all its runs`,
	"connecthub run": `  connecthub run list --job demo.hello
  connecthub run get RUN_ID
  connecthub run logs RUN_ID -f`,
	"connecthub run list": `  connecthub run list
  connecthub run list --job demo.hello --status FAILURE,CANCELED
  connecthub run list --trigger cron --limit 10 --json`,
	"connecthub run get":    `  connecthub run get RUN_ID                 # status, node, times, message, error, traceback`,
	"connecthub run retry":  `  connecthub run retry RUN_ID               # a new run from the same snapshot`,
	"connecthub run cancel": `  connecthub run cancel RUN_ID`,
	"connecthub runs": `  connecthub runs retry --job payroll.sync --status FAILURE            # show what would be retried
  connecthub runs retry --job payroll.sync --status FAILURE --yes      # and retry them
  connecthub runs cancel --status QUEUED --job stuck.job --yes
  connecthub runs delete --status SUCCESS --until 2026-01-01T00:00:00+08:00 --yes`,
	"connecthub runs retry": `  connecthub runs retry --job payroll.sync --status FAILURE --since 2026-03-01T00:00:00+08:00
  connecthub runs retry --id 01J9...,01J9... --yes`,
	"connecthub runs cancel": `  connecthub runs cancel --job stuck.job --status QUEUED,RUNNING --yes`,
	"connecthub runs delete": `  connecthub runs delete --job noisy.job --status SKIPPED --yes   # needs the admin role`,
	"connecthub run logs": `  connecthub run logs RUN_ID
  connecthub run logs RUN_ID -f             # until the run ends`,
	"connecthub worker": `  connecthub worker --server http://127.0.0.1:8000         # next to a local server
  CONNECTHUB_WORKER_TOKEN=... connecthub worker --server https://connecthub.internal --name w1-a --queues default,erp`,
	"connecthub token": `  connecthub token create --name w1 --scope worker
  connecthub token list`,
	"connecthub token create": `  connecthub token create --name w1 --scope worker --queues default,erp
  connecthub token create --name ci --scope admin`,
	"connecthub token list":   `  connecthub token list`,
	"connecthub token revoke": `  connecthub token revoke w1`,
	"connecthub nodes": `  connecthub nodes list
  connecthub nodes stop w1-a`,
	"connecthub nodes list":  `  connecthub nodes list`,
	"connecthub nodes clean": `  connecthub nodes clean --older-than 1h`,
	"connecthub nodes stop":  `  connecthub nodes stop w1-a               # finishes its runs, claims no more`,
	"connecthub nodes start": `  connecthub nodes start w1-a`,
	"connecthub secrets":     `  connecthub secrets rotate`,
	"connecthub secrets rotate": `  connecthub keygen > new.key && cat data/fernet.key >> new.key && mv new.key data/fernet.key
  connecthub secrets rotate                 # re-encrypt with the first key`,
	"connecthub backup":  `  connecthub backup --out connecthub-$(date +%F).tar.gz`,
	"connecthub restore": `  connecthub restore --in connecthub-2026-12-07.tar.gz --force`,
	"connecthub completion": `  source <(connecthub completion bash)
  connecthub completion zsh > "${fpath[1]}/_connecthub"
  connecthub completion fish > ~/.config/fish/completions/connecthub.fish`,
	"connecthub notify": `  connecthub notify channels create --file ops-dingtalk.json
  connecthub notify rules create --file payroll-failures.json
  connecthub notify test ops-dingtalk
  connecthub notify log --status failed`,
	"connecthub notify test": `  connecthub notify test ops-dingtalk      # prints the receiver's answer`,
	"connecthub notify channels": `  connecthub notify channels list
  connecthub notify channels create --file ops-dingtalk.json`,
	"connecthub notify channels list":   `  connecthub notify channels list --json`,
	"connecthub notify channels create": `  connecthub notify channels create --file ops-dingtalk.json   # {"name":"ops-dingtalk","type":"dingtalk","url":"https://…","secret":"SEC…"}`,
	"connecthub notify channels delete": `  connecthub notify channels delete ops-dingtalk`,
	"connecthub notify rules": `  connecthub notify rules list
  connecthub notify rules create --file payroll-failures.json`,
	"connecthub notify rules list":   `  connecthub notify rules list --json`,
	"connecthub notify rules create": `  connecthub notify rules create --file payroll-failures.json  # {"name":"payroll failures","match":{"job":"payroll.*"},"event":"failure","channels":["ops-dingtalk"]}`,
	"connecthub notify rules delete": `  connecthub notify rules delete "payroll failures"`,
	"connecthub notify log": `  connecthub notify log
  connecthub notify log --json`,
	"connecthub import": `  connecthub import python --from postgres://old:secret@db/connecthub --key /opt/old/fernet.key --dry-run`,
	"connecthub import python": `  connecthub import python --from sqlite:///opt/old/connecthub.db --key /opt/old/fernet.key --dry-run
  connecthub import python --from postgres://old:secret@db/connecthub --key fernet.key --history --since 2026-06-01
  connecthub import python --from postgres://old:secret@db/connecthub --key fernet.key --map handlers.yaml`,
	"connecthub export": `  connecthub export -o jobs.yaml
  connecthub export --job 'oa.*' -o jobs/oa.yaml
  connecthub export python --to postgres://old:secret@db/connecthub`,
	"connecthub apply": `  connecthub apply -f jobs/ --dry-run
  connecthub apply -f jobs/ --yes
  connecthub apply -f jobs/ --prune   # also deletes jobs the files do not name; asks first`,
	"connecthub diff":          `  connecthub diff -f jobs/   # exit 1 when the server differs from the files (CI)`,
	"connecthub batches":       `  connecthub batches list`,
	"connecthub batches list":  `  connecthub batches list --limit 20`,
	"connecthub batches show":  `  connecthub batches show 12`,
	"connecthub rollback":      `  connecthub rollback 12 --yes`,
	"connecthub export python": `  connecthub export python --to postgres://old:secret@db/connecthub   # rollback: enabled and last_run_at back to the old stack`,
	"connecthub stats":         `  connecthub stats rebuild`,
	"connecthub stats rebuild": `  connecthub stats rebuild                     # recount every finished run (SQLite next to serve, or --db-url)`,
	"connecthub queue": `  connecthub queue list
  connecthub queue pause erp      # the ERP is down for maintenance: its runs wait
  connecthub queue resume erp`,
	"connecthub calendar": `  connecthub calendar list
  connecthub calendar get cn --json > cn.json      # edit, then:
  connecthub calendar put cn -f cn.json`,
	"connecthub help": `  connecthub help job create`,
	"connecthub user": `  connecthub user list
  printf '%s' "$PW" | connecthub user add li.lei --role operator --display-name 李雷 --password-stdin
  connecthub user set-role li.lei admin`,
	"connecthub user add":      `  printf '%s' "$PW" | connecthub user add li.lei --role operator --display-name 李雷 --password-stdin`,
	"connecthub user list":     `  connecthub user list --json`,
	"connecthub user set-role": `  connecthub user set-role li.lei viewer`,
	"connecthub user update":   `  connecthub user update li.lei --allow-oidc-link   # its next single sign-on links to it, once`,
	"connecthub user passwd":   `  printf '%s' "$NEW_PW" | connecthub user passwd li.lei   # reads the new password from stdin`,
	"connecthub user disable": `  connecthub user disable li.lei          # revokes its sessions and tokens
  connecthub user disable li.lei --undo   # lets it sign in again`,
}

// addExamples fills the Example of every command that has none from
// examples, walking the whole tree.
func addExamples(cmd *cobra.Command) {
	if cmd.Example == "" {
		cmd.Example = examples[cmd.CommandPath()]
	}
	for _, c := range cmd.Commands() {
		addExamples(c)
	}
}

// newCompletionCmd prints a shell completion script. It replaces cobra's
// default command so that it has examples and only the shells we document.
func newCompletionCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:       "completion bash|zsh|fish",
		Short:     "Print a shell completion script for bash, zsh or fish",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"bash", "zsh", "fish"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch strings.ToLower(args[0]) {
			case "bash":
				return root.GenBashCompletionV2(env.Stdout, true)
			case "zsh":
				return root.GenZshCompletion(env.Stdout)
			case "fish":
				return root.GenFishCompletion(env.Stdout, true)
			}
			return usageError("completion: unknown shell %q (use bash, zsh or fish)", args[0])
		},
	}
}

// helpCommand is cobra's help command with an example; cobra would add an
// identical one without it.
func helpCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:     "help [command]",
		Short:   "Help about any command",
		Example: examples["connecthub help"],
		Run: func(c *cobra.Command, args []string) {
			cmd, _, err := root.Find(args)
			if cmd == nil || err != nil {
				fmt.Fprintf(c.OutOrStdout(), "unknown help topic %q\n", strings.Join(args, " "))
				_ = root.Usage()
				return
			}
			cmd.InitDefaultHelpFlag()
			_ = cmd.Help()
		},
	}
}
