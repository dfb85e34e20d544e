package pgstore

import (
	"context"
	"embed"
	"hash/fnv"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// migrationFiles holds the numbered schema migrations (NNNN_name.sql, goose
// annotations). A released migration is never edited: changes are new files.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// cleanupTimeout bounds the statements that run after the caller's context
// may already be done (unlocking, closing).
const cleanupTimeout = 5 * time.Second

// migrate applies the pending migrations in the store's schema and returns
// the schema's name; the applied versions go to *applied when it is not nil.
//
// Replicas that start together must not run a migration twice, so the work
// happens under a session advisory lock taken with pg_advisory_lock, which
// waits (no polling interval to sit out) and is released if this process
// dies. The lock id is derived from the schema, so stores in other schemas
// of the same database (other installations, parallel tests) do not wait
// for each other. createSchema, when set, is the schema to use, created if
// missing; otherwise the schema is the connection's current_schema().
func migrate(ctx context.Context, cfg *pgx.ConnConfig, createSchema string, applied *[]int64) (string, error) {
	lockCfg := cfg.Copy()
	// A caller that gives up while waiting for the lock must also stop the
	// wait in the server, or the abandoned session would take the lock
	// later and hold up the others until it noticed it was alone.
	lockCfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: time.Second}
	}
	conn, err := pgx.ConnectConfig(ctx, lockCfg)
	if err != nil {
		return "", openErr(err, lockCfg.Password)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		conn.Close(cctx) // ending the session releases the lock, too
	}()

	schema := createSchema
	if schema == "" {
		var current *string
		if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&current); err != nil {
			return "", migrateErr(err)
		}
		if current == nil {
			return "", &connecthub.Error{Kind: connecthub.KindInvalid, Code: "invalid_db_url", Field: "db_url",
				Message: "the search_path of the PostgreSQL URL names no existing schema"}
		}
		schema = *current
	}

	lockID := migrationLockID(schema)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockID); err != nil {
		return "", migrateErr(err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_, _ = conn.Exec(cctx, "SELECT pg_advisory_unlock($1)", lockID)
	}()

	if createSchema != "" {
		// Look before creating: CREATE SCHEMA IF NOT EXISTS would still
		// need the CREATE privilege on the database, which a role that was
		// handed an existing schema may rightly lack.
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
			return "", migrateErr(err)
		}
		if !exists {
			if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
				return "", migrateErr(err)
			}
		}
	}

	versions, err := runGoose(ctx, cfg)
	if err != nil {
		return "", err
	}
	if applied != nil {
		*applied = versions
	}
	return schema, nil
}

// runGoose applies the embedded migrations through one connection of its
// own (goose wants a database/sql handle) and returns the versions applied.
// The caller holds the migration lock.
func runGoose(ctx context.Context, cfg *pgx.ConnConfig) ([]int64, error) {
	db := stdlib.OpenDB(*cfg.Copy())
	defer db.Close()
	db.SetMaxOpenConns(1)
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, migrateErr(err)
	}
	return store.Migrate(ctx, goose.DialectPostgres, db, fsys, migrateErr)
}

// migrationLockID is the advisory lock id that serialises migrations of one
// schema.
func migrationLockID(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("connecthub.migrate:" + schema))
	return int64(h.Sum64())
}

func migrateErr(err error) error {
	if ce := dbErr(err); connecthub.IsKind(ce, connecthub.KindUnavailable) && !isCode(err, codeUndefinedTable) {
		// The database went away or the caller gave up: say so rather than
		// blame the migration.
		return ce
	}
	return store.MigrationFailed(err)
}
