package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"io/fs"

	"github.com/pressly/goose/v3"

	"github.com/connecthub/connecthub/internal/store"
)

// migrationFiles holds the numbered schema migrations (NNNN_name.sql, goose
// annotations). A released migration is never edited: changes are new files.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate applies the pending migrations through db and returns their
// versions. db must be the writer: goose runs each migration in its own
// transaction on one connection it holds for the duration.
func migrate(ctx context.Context, db *sql.DB) ([]int64, error) {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, store.MigrationFailed(err)
	}
	return store.Migrate(ctx, goose.DialectSQLite3, db, fsys, store.MigrationFailed)
}
