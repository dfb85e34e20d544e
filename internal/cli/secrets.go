package cli

import (
	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub/internal/backup"
)

func newSecretsCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "secrets", Short: "Manage the encrypted job secrets (key rotation)"}
	var flags serverFlags
	var dryRun bool
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Re-encrypt every stored secret with the first key of the key file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := flags.load(env)
			if err != nil {
				return err
			}
			return backup.RotateSecrets(cmd.Context(), env.streams(), cfg, dryRun)
		},
	}
	flags.register(rotate, false)
	rotate.Flags().BoolVar(&dryRun, "dry-run", false, "check that every secret decrypts and count what would change; write nothing")
	cmd.AddCommand(rotate)
	return cmd
}
