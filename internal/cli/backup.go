package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub/internal/backup"
)

func newBackupCmd(env *Env) *cobra.Command {
	var flags serverFlags
	var out string
	var force bool
	cmd := &cobra.Command{
		Use:   "backup --out FILE",
		Short: "Write the database (SQLite) and the key file into one archive; works while the server runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := flags.load(env)
			if err != nil {
				return err
			}
			if strings.TrimSpace(out) == "" {
				return usageError("--out FILE must not be empty")
			}
			return backup.Backup(cmd.Context(), env.streams(), cfg, out, force)
		},
	}
	flags.register(cmd, false)
	cmd.Flags().StringVar(&out, "out", "", "archive to write (.tar.gz)")
	cmd.Flags().BoolVar(&force, "force", false, "replace FILE if it exists")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func newRestoreCmd(env *Env) *cobra.Command {
	var flags serverFlags
	var in string
	var force bool
	cmd := &cobra.Command{
		Use:   "restore --in FILE",
		Short: "Replace the database (SQLite) and the key file with those of a backup archive",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := flags.load(env)
			if err != nil {
				return err
			}
			if strings.TrimSpace(in) == "" {
				return usageError("--in FILE must not be empty")
			}
			return backup.Restore(cmd.Context(), env.streams(), cfg, in, force)
		},
	}
	flags.register(cmd, false)
	cmd.Flags().StringVar(&in, "in", "", "archive to restore (.tar.gz from connecthub backup)")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing database and key file (they are kept as .bak)")
	_ = cmd.MarkFlagRequired("in")
	return cmd
}

// streams are the output streams of the backup package's commands.
func (env *Env) streams() backup.Streams {
	return backup.Streams{Stdout: env.Stdout, Stderr: env.Stderr}
}
