package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"

	"github.com/connecthub/connecthub"
)

// Migrate applies the pending schema migrations in files (numbered goose
// SQL files) through db and returns the versions it applied. Both drivers
// follow the same rules through it: only these files run (a Go migration
// that some other package registered globally never does), and a database
// whose schema is newer than the newest migration is refused
// (KindUnavailable, code schema_too_new), because an older binary knows
// neither the columns it is missing nor the rules they carry. wrap turns
// a failure into the driver's error.
func Migrate(ctx context.Context, dialect goose.Dialect, db *sql.DB, files fs.FS, wrap func(error) error) ([]int64, error) {
	p, err := goose.NewProvider(dialect, db, files, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, wrap(err)
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return nil, wrap(err)
	}
	sources := p.ListSources()
	if latest := sources[len(sources)-1].Version; current > latest {
		return nil, &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "schema_too_new",
			Message: fmt.Sprintf("the database schema is at version %d, newer than this connecthub supports (%d); run a newer connecthub", current, latest)}
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, wrap(err)
	}
	versions := make([]int64, 0, len(results))
	for _, r := range results {
		versions = append(versions, r.Source.Version)
	}
	return versions, nil
}

// MigrationFailed is the error of a migration that failed for a reason
// other than the database going away.
func MigrationFailed(err error) error {
	return &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "migration_failed",
		Message: "the database schema could not be migrated", Err: err}
}
