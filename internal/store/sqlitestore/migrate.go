package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
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
	// An older binary must not run against a schema a newer one migrated:
	// it would not know the columns it is missing or the rules they carry.
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return nil, migrateErr(err)
	}
	sources := p.ListSources()
	if latest := sources[len(sources)-1].Version; current > latest {
		return nil, &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "schema_too_new",
			Message: fmt.Sprintf("the database schema is at version %d, newer than this connecthub supports (%d); run a newer connecthub", current, latest)}
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
