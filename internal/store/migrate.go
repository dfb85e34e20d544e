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
		return nil, schemaTooNew(ctx, dialect, db, current, latest)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, wrap(err)
	}
	versions := make([]int64, 0, len(results))
	for _, r := range results {
		versions = append(versions, r.Source.Version)
	}
	if len(versions) > 0 {
		// The first binary to reach this schema is the oldest one that
		// can run on it: a rolled-back older binary names it.
		q := `INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`
		if dialect == goose.DialectPostgres {
			q = `INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value`
		}
		if _, err := db.ExecContext(ctx, q, MetaSchemaWrittenBy, connecthub.Version); err != nil {
			return versions, wrap(err)
		}
	}
	return versions, nil
}

// MetaSchemaWrittenBy names the meta row that holds the connecthub version
// that applied the database's newest migration, so that an older binary
// refusing the schema can say which version to run instead.
const MetaSchemaWrittenBy = "schema_written_by"

// schemaTooNew is the refusal of a schema newer than this binary's newest
// migration. It names the version to run when the database recorded which
// connecthub migrated it (versions from this one on do); a database
// migrated by an earlier version gets the general advice.
func schemaTooNew(ctx context.Context, dialect goose.Dialect, db *sql.DB, current, latest int64) error {
	q := `SELECT value FROM meta WHERE name = ?`
	if dialect == goose.DialectPostgres {
		q = `SELECT value FROM meta WHERE name = $1`
	}
	by, run := "a newer connecthub", "run a newer connecthub (the version that migrated it, or a later one)"
	var v string
	if err := db.QueryRowContext(ctx, q, MetaSchemaWrittenBy).Scan(&v); err == nil && v != "" {
		by, run = "connecthub "+v, "run connecthub "+v+" or later"
	}
	return &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "schema_too_new",
		Message: fmt.Sprintf("this database was written by %s (schema version %d); this connecthub (%s) knows schema versions up to %d and must not change it: %s",
			by, current, connecthub.Version, latest, run)}
}

// MigrationFailed is the error of a migration that failed for a reason
// other than the database going away.
func MigrationFailed(err error) error {
	return &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "migration_failed",
		Message: "the database schema could not be migrated", Err: err}
}
