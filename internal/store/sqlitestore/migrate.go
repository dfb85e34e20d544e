package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"io/fs"

	"github.com/pressly/goose/v3"

	"github.com/connecthub/connecthub"
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
		return nil, migrateErr(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys,
		// Only our files: a Go migration registered globally by some other
		// package must never run against this database.
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return nil, migrateErr(err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, migrateErr(err)
	}
	versions := make([]int64, 0, len(results))
	for _, r := range results {
		versions = append(versions, r.Source.Version)
	}
	return versions, nil
}

func migrateErr(err error) error {
	return &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "migration_failed",
		Message: "the database schema could not be migrated", Err: err}
}
