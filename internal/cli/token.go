package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

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

	var name, scope, nodePrefix string
	var queues []string
	create := &cobra.Command{
		Use:   "create --name NAME [--scope worker|admin|user] [--queues a,b] [--node-prefix P]",
		Short: "Create a token and print its secret (shown only once)",
		Long: "Create an API token. The secret is printed alone on stdout, so that\n" +
			"  T=$(connecthub token create --name worker-1)\n" +
			"captures it; the server keeps only its SHA-256 and cannot show it again.\n" +
			"A worker token may call only the worker protocol (/api/v1/worker), only for\n" +
			"nodes whose name starts with --node-prefix (default: the token's name), and\n" +
			"may serve only --queues (default: default): the jobs of those queues, with\n" +
			"their secrets, are what its workers can receive.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return usageError("--name is required")
			}
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			if scope != connecthub.ScopeWorker && (len(queues) > 0 || nodePrefix != "") {
				return usageError("--queues and --node-prefix bind worker tokens only")
			}
			t, err := c.CreateTokenWith(cmd.Context(), client.TokenRequest{Name: name, Scope: scope, Queues: queues, NodePrefix: nodePrefix})
			if err != nil {
				return err
			}
			if cf.asJSON {
				return writeJSONOut(env, t)
			}
			fmt.Fprintf(env.Stderr, "created %s token %s (%s); its secret is shown only now:\n", t.Scope, t.Name, t.ID)
			fmt.Fprintln(env.Stdout, t.Secret)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "a name for the token, e.g. the worker or team it is for (required)")
	create.Flags().StringVar(&scope, "scope", connecthub.ScopeWorker, "worker (the worker protocol only), admin (everything) or user (a personal token acting with your role)")
	create.Flags().StringSliceVar(&queues, "queues", nil, "worker scope: the queues its workers may serve, comma-separated (default: default)")
	create.Flags().StringVar(&nodePrefix, "node-prefix", "", "worker scope: the prefix of the node names its workers may use (default: the token's name)")

	list := &cobra.Command{
		Use: "list", Short: "List tokens (never their secrets)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			tokens, err := c.ListTokens(cmd.Context())
			if err != nil {
				return err
			}
			if cf.asJSON {
				if tokens == nil {
					tokens = []connecthub.Token{}
				}
				return writeJSONOut(env, map[string]any{"tokens": tokens})
			}
			if len(tokens) == 0 {
				fmt.Fprintln(env.Stdout, "no API tokens yet: create one with `connecthub token create --name NAME --scope worker|admin`")
				return nil
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tCREATED\tLAST USED\tREVOKED\tNODE PREFIX\tQUEUES")
			for _, t := range tokens {
				created := t.CreatedAt
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Scope, fmtTime(env, &created, ""), fmtTime(env, t.LastUsedAt, ""), fmtTime(env, t.RevokedAt, ""),
					dash(t.NodePrefix), dash(strings.Join(t.Queues, ",")))
			}
			return tw.Flush()
		},
	}

	revoke := &cobra.Command{
		Use: "revoke ID|NAME", Short: "Revoke a token: it stops working at once", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			if err := c.RevokeToken(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "revoked %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
