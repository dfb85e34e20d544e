package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// A kept history (-history-keep): building ten million runs takes many
// minutes, the reads a second, and on a shared machine a quiet minute to
// time them in rarely coincides with the end of a build. So the history
// measurement can keep its database (a SQLite file, or a PostgreSQL
// database on -pg-url's server) and its key file, and the next run reuses
// them when they hold the history asked for: 100 jobs and -history-n
// finished runs. A kept database that holds anything else is emptied and
// built again.

// pgKeepName is what a kept PostgreSQL database may be called: a plain
// identifier, so that it needs no quoting on a command line either.
var pgKeepName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// checkHistoryKeep checks -history-keep against the other options.
func checkHistoryKeep(o options) error {
	if o.historyKeep == "" {
		return nil
	}
	if !slices.Contains(o.kinds, kindHistory) {
		return errors.New("-history-keep keeps the history measurement's database: add history to -only")
	}
	if len(o.drivers) != 1 {
		return errors.New("-history-keep names one database: choose -driver sqlite or -driver postgres")
	}
	if o.drivers[0] == "postgres" && !pgKeepName.MatchString(o.historyKeep) {
		return fmt.Errorf("-history-keep: %q is not a PostgreSQL database name (lower-case letters, digits and _, at most 63)", o.historyKeep)
	}
	return nil
}

// keepHistory points a history measurement at the kept database and key
// file, creating the PostgreSQL database when it does not exist yet.
func (a *childArgs) keepHistory(ctx context.Context, o options) error {
	if a.System != systemPostgres {
		p, err := filepath.Abs(o.historyKeep)
		if err != nil {
			return fmt.Errorf("-history-keep: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("-history-keep: %w", err)
		}
		a.dsn, a.keyPath = p, p+".fernet.key"
		return nil
	}
	name := o.historyKeep
	dbURL, err := pgWithDatabase(o.pgURL, name)
	if err != nil {
		return err
	}
	if err := pgEnsureDatabase(ctx, o.pgURL, name); err != nil {
		return err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return fmt.Errorf("-history-keep: a directory for the key file: %w", err)
	}
	dir := filepath.Join(cache, "connecthub-bench")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("-history-keep: %w", err)
	}
	a.dsn, a.adminURL, a.db, a.keyPath = dbURL, o.pgURL, name, filepath.Join(dir, name+".fernet.key")
	return nil
}

// pgEnsureDatabase creates database name unless it exists.
func pgEnsureDatabase(ctx context.Context, adminURL, name string) error {
	return pgAdmin(ctx, adminURL, func(ctx context.Context, conn *pgx.Conn) error {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
			return fmt.Errorf("look for database %s: %w", name, err)
		}
		if exists {
			return nil
		}
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("create database %s: %w", name, err)
		}
		return nil
	})
}

// pgAdmin connects to url and calls fn with a context bounded by
// pgAdminTimeout.
func pgAdmin(ctx context.Context, url string, fn func(ctx context.Context, conn *pgx.Conn) error) error {
	conn, err := pgConnect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ctx, cancel := context.WithTimeout(ctx, pgAdminTimeout)
	defer cancel()
	return fn(ctx, conn)
}

// keptHistory returns the kept history's jobs when the database and the
// key file hold what this measurement asks for; otherwise it empties the
// database and removes the key file, so that the history is built again,
// and returns nil.
func (m *measurement) keptHistory(ctx context.Context) ([]*connecthub.Job, error) {
	jobs, _, err := m.e.st.JobList(ctx, store.JobListParams{Limit: historyJobs + 1})
	if err != nil {
		return nil, err
	}
	st, err := m.e.st.Stats(ctx, time.Now())
	if err != nil {
		return nil, err
	}
	var runs int64
	for _, n := range st.Runs {
		runs += n
	}
	finished := st.Runs[connecthub.StatusSuccess] + st.Runs[connecthub.StatusFailure] + st.Runs[connecthub.StatusSkipped]
	_, keyErr := os.Stat(m.a.keyPath)
	if len(jobs) == historyJobs && finished == int64(m.a.N) && runs == finished && keyErr == nil &&
		!slices.ContainsFunc(jobs, func(j *connecthub.Job) bool { return !strings.HasPrefix(j.ID, "hist") }) {
		fmt.Fprintf(os.Stderr, "bench: reusing the kept history %s (%d runs of %d jobs)\n", m.keptName(), finished, len(jobs))
		return jobs, nil
	}
	if len(jobs) > 0 || runs > 0 {
		fmt.Fprintf(os.Stderr, "bench: the kept history %s holds %d runs of %d jobs, not %d of %d: building it again\n", m.keptName(), runs, len(jobs), m.a.N, historyJobs)
	}
	if err := m.e.close(); err != nil {
		return nil, err
	}
	if m.a.System == systemPostgres {
		if err := pgDropDatabase(ctx, m.a.adminURL, m.a.db); err != nil {
			return nil, err
		}
		if err := pgEnsureDatabase(ctx, m.a.adminURL, m.a.db); err != nil {
			return nil, err
		}
	} else {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(m.a.dsn + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
	}
	if err := os.Remove(m.a.keyPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return nil, m.e.open(ctx)
}

// keptName names the kept database in messages.
func (m *measurement) keptName() string {
	if m.a.System == systemPostgres {
		return "database " + m.a.db
	}
	return m.a.dsn
}

// pgVacuumAnalyze vacuums and analyzes database dbURL's tables (no
// pgAdminTimeout: at ten million runs it takes minutes).
func pgVacuumAnalyze(ctx context.Context, dbURL string) error {
	conn, err := pgConnect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE)"); err != nil {
		return fmt.Errorf("vacuum and analyze the history: %w", err)
	}
	return nil
}
