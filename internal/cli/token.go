package cli

import (
	"fmt"
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
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens (worker tokens for `connecthub worker`)"}
	cf.register(cmd)

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
