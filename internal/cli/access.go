package cli

// Who may call the API: API tokens and users.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
)

// newTokenCmd manages API tokens through the server's API (admin only),
// like every other client command: it works the same against SQLite or
// PostgreSQL, from any machine that reaches the server, and needs no
// database credentials.
func newTokenCmd(env *Env) *cobra.Command {
	var cf clientFlags
	cmd := cf.group("token", "Manage API tokens (worker tokens for `connecthub worker`)")

	var req client.TokenRequest
	create := &cobra.Command{
		Use:   "create --name NAME [--scope worker|admin|user] [--queues a,b] [--node-prefix P]",
		Short: "Create a token and print its secret (shown only once)",
		Args:  cobra.NoArgs,
		RunE: checked(need(func() bool { return req.Name != "" }, "--name is required"), apiCmd(env, &cf, func(a apiCall) (*client.CreatedToken, error) {
			if req.Scope != connecthub.ScopeWorker && (len(req.Queues) > 0 || req.NodePrefix != "") {
				return nil, usageError("--queues and --node-prefix bind worker tokens only")
			}
			return a.c.CreateTokenWith(a.ctx, req)
		}, func(_ apiCall, t *client.CreatedToken) error {
			fmt.Fprintf(env.Stderr, "created %s token %s (%s); its secret is shown only now:\n", t.Scope, t.Name, t.ID)
			return say(env, "%s", t.Secret)
		})),
	}
	create.Flags().StringVar(&req.Name, "name", "", "a name for the token, e.g. the worker or team it is for (required)")
	create.Flags().StringVar(&req.Scope, "scope", connecthub.ScopeWorker, "worker (the worker protocol only), admin (everything) or user (a personal token acting with your role)")
	create.Flags().StringSliceVar(&req.Queues, "queues", nil, "worker scope: the queues its workers may serve, comma-separated (default: default)")
	create.Flags().StringVar(&req.NodePrefix, "node-prefix", "", "worker scope: the prefix of the node names its workers may use (default: the token's name)")

	cmd.AddCommand(create,
		listCmd(env, &cf, "List tokens (never their secrets)", "tokens", (*client.Client).ListTokens,
			"no API tokens yet: create one with `connecthub token create --name NAME --scope worker|admin`",
			"ID\tNAME\tSCOPE\tCREATED\tLAST USED\tREVOKED\tNODE PREFIX\tQUEUES", func(t connecthub.Token) []any {
				return []any{t.ID, t.Name, t.Scope, fmtTime(env, &t.CreatedAt, ""), fmtTime(env, t.LastUsedAt, ""),
					fmtTime(env, t.RevokedAt, ""), dash(t.NodePrefix), dash(strings.Join(t.Queues, ","))}
			}),
		actCmd(env, &cf, "revoke ID|NAME", "Revoke a token: it stops working at once", (*client.Client).RevokeToken, "revoked %s"))
	return cmd
}

// newUserCmd manages users through the server's API (admin only), like
// every other client command.
func newUserCmd(env *Env) *cobra.Command {
	var cf clientFlags
	cmd := cf.group("user", "Manage users and their roles (viewer, operator, admin)")

	var displayName, role string
	var passwordStdin bool
	add := &cobra.Command{
		Use:   "add USERNAME [--role viewer|operator|admin] [--display-name NAME] --password-stdin",
		Short: "Add a user",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !passwordStdin {
				return usageError("--password-stdin is required: pipe the password in on stdin")
			}
			pw, err := readPassword(env.Stdin)
			if err != nil {
				return err
			}
			return apiCmd(env, &cf, func(a apiCall) (*connecthub.User, error) {
				return a.c.CreateUser(a.ctx, client.UserRequest{Username: a.args[0], DisplayName: displayName, Role: role, Password: pw})
			}, func(_ apiCall, u *connecthub.User) error { return say(env, "added %s (%s)", u.Username, u.Role) })(cmd, args)
		},
	}
	add.Flags().StringVar(&role, "role", string(connecthub.RoleViewer), "viewer (reads), operator (also runs, retries, cancels, enables) or admin (everything)")
	add.Flags().StringVar(&displayName, "display-name", "", "the name shown in the UI, e.g. 李雷")
	add.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin (required)")

	list := listCmd(env, &cf, "List users (never their passwords)", "users", (*client.Client).ListUsers, "",
		"USERNAME\tDISPLAY NAME\tROLE\tDISABLED\tCREATED\tLAST LOGIN", func(u connecthub.User) []any {
			return []any{u.Username, dash(u.DisplayName), u.Role, u.Disabled, fmtTime(env, &u.CreatedAt, ""), fmtTime(env, u.LastLoginAt, "")}
		})

	patch := func(use, short string, args cobra.PositionalArgs, mk func(args []string) (client.UserPatch, string, error)) *cobra.Command {
		var p client.UserPatch
		var done string
		return &cobra.Command{Use: use, Short: short, Args: args,
			RunE: checked(func(args []string) (err error) {
				p, done, err = mk(args)
				return err
			}, apiCmd(env, &cf, func(a apiCall) (*connecthub.User, error) { return a.c.UpdateUser(a.ctx, a.args[0], p) },
				func(_ apiCall, u *connecthub.User) error { return say(env, "%s %s", done, u.Username) }))}
	}
	setRole := patch("set-role USERNAME ROLE", "Set a user's role; it holds from the user's next request", cobra.ExactArgs(2),
		func(args []string) (client.UserPatch, string, error) {
			r, err := connecthub.ParseRole(args[1])
			if err != nil {
				return client.UserPatch{}, "", usageError("%s", err.Error())
			}
			s := string(r)
			return client.UserPatch{Role: &s}, "set role " + s + " for", nil
		})
	passwd := patch("passwd USERNAME", "Set a user's password, read from the first line of stdin", cobra.ExactArgs(1),
		func([]string) (client.UserPatch, string, error) {
			pw, err := readPassword(env.Stdin)
			if err != nil {
				return client.UserPatch{}, "", err
			}
			return client.UserPatch{Password: &pw}, "set the password of", nil
		})
	var enable bool
	disable := patch("disable USERNAME", "Disable a user: its sessions and personal tokens stop working at once", cobra.ExactArgs(1),
		func([]string) (client.UserPatch, string, error) {
			off := !enable
			return client.UserPatch{Disabled: &off}, map[bool]string{true: "enabled", false: "disabled"}[enable], nil
		})
	disable.Flags().BoolVar(&enable, "undo", false, "enable the user again (its revoked sessions and tokens stay revoked)")
	var allowLink bool
	var update *cobra.Command
	update = patch("update USERNAME --allow-oidc-link[=false]", "Let a local user's next single sign-on (OIDC) link to it, once, or withdraw that", cobra.ExactArgs(1),
		func([]string) (client.UserPatch, string, error) {
			if !update.Flags().Changed("allow-oidc-link") {
				return client.UserPatch{}, "", usageError("nothing to update: give --allow-oidc-link or --allow-oidc-link=false")
			}
			return client.UserPatch{AllowOIDCLink: &allowLink}, map[bool]string{true: "allowed the next OIDC sign-in to link to", false: "withdrew the OIDC link of"}[allowLink], nil
		})
	update.Flags().BoolVar(&allowLink, "allow-oidc-link", false, "the next OIDC sign-in with this username links to the user, once (=false withdraws it)")
	cmd.AddCommand(add, list, setRole, passwd, disable, update)
	return cmd
}

// readPassword reads a password from the first line of r, without its
// line ending.
func readPassword(r io.Reader) (string, error) {
	if r == nil {
		return "", usageError("no stdin to read the password from")
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usageError("the password read from stdin is empty")
	}
	return line, nil
}
