package cli

import (
	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub/internal/backup"
)

// rotateLong is the help of `secrets rotate`: the whole procedure, since
// the command is only its fourth step.
const rotateLong = `Re-encrypt every stored secret (jobs' secret_cfg and the secrets copied
into runs' snapshots) with the first key of the key file.

Key rotation, step by step:
  1. connecthub keygen                  prints a new key
  2. put it on the first line of the key file (CONNECTHUB_FERNET_KEY_PATH),
     keeping the old key(s) below it: the first key encrypts, all decrypt
  3. restart every server, so that all of them encrypt with the new key
  4. connecthub secrets rotate          re-encrypts what the old keys made
  5. only then remove the old keys from the key file (and restart again);
     keep them wherever backups made before the rotation are kept

Nothing is written unless every secret can be decrypted first: a secret that
no key in the file decrypts stops the rotation, naming its job or run.
Servers may keep running (restart them in step 3 first).`

func newSecretsCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "secrets", Short: "Manage the encrypted job secrets (key rotation)"}
	var flags serverFlags
	var dryRun bool
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Re-encrypt every stored secret with the first key of the key file",
		Long:  rotateLong,
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
