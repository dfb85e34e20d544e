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
		Long: `Write a consistent snapshot of the SQLite database (VACUUM INTO, safe while servers run)
and the Fernet key file into FILE, a .tar.gz written with mode 0600.

The archive holds the key: whoever has it can decrypt every stored secret, so
store it as carefully as the key itself. With PostgreSQL the command prints the
pg_dump command to run and puts the key file alone into FILE.`,
		Args: cobra.NoArgs,
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
		Long: `Restore an archive written by connecthub backup into the data directory.

Every server using the database must be stopped first: restore refuses while
any process has the database open. It unpacks the archive beside the
database, checks that the archive's key decrypts every secret in it, and only
then replaces connecthub.db and fernet.key, keeping the previous files as
<name>.<time>.bak. An existing database or a different key file is only
replaced with --force.

With PostgreSQL the command prints the pg_restore steps instead.`,
		Args: cobra.NoArgs,
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
