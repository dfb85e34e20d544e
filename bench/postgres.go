package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgAdminTimeout bounds each administrative statement, so that a server
// that does not answer fails the benchmark instead of hanging it.
const pgAdminTimeout = 30 * time.Second

// pgConnect connects to the server at adminURL (any database the role may
// create databases from, typically "postgres").
func pgConnect(ctx context.Context, adminURL string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, pgAdminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	return conn, nil
}

// pgServerVersion returns the server's version and whether it is durable
// (for example "15.18, durable: fsync on, synchronous_commit on,
// full_page_writes on"); it doubles as the check that PostgreSQL is
// reachable. Durability decides what a commit costs (a WAL flush, about a
// millisecond on this machine kind, or nothing), so no figure is reported
// without it.
func pgServerVersion(ctx context.Context, adminURL string) (string, error) {
	conn, err := pgConnect(ctx, adminURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ctx, cancel := context.WithTimeout(ctx, pgAdminTimeout)
	defer cancel()
	var v, fsync, syncCommit, fpw string
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('fsync'),
		current_setting('synchronous_commit'), current_setting('full_page_writes')`).Scan(&v, &fsync, &syncCommit, &fpw)
	if err != nil {
		return "", fmt.Errorf("PostgreSQL server version: %w", err)
	}
	durability := "NOT durable"
	if fsync == "on" && syncCommit != "off" {
		durability = "durable"
	}
	return fmt.Sprintf("%s, %s: fsync %s, synchronous_commit %s, full_page_writes %s", v, durability, fsync, syncCommit, fpw), nil
}

// pgCreateDatabase creates a fresh, uniquely named database and returns its
// name and a URL that selects it. Each measurement gets one, so that no
// table, index or statistics carry over from the previous one.
func pgCreateDatabase(ctx context.Context, adminURL string) (name, dbURL string, err error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	name = "connecthub_bench_" + hex.EncodeToString(b[:])
	if dbURL, err = pgWithDatabase(adminURL, name); err != nil {
		return "", "", err
	}
	conn, err := pgConnect(ctx, adminURL)
	if err != nil {
		return "", "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ctx, cancel := context.WithTimeout(ctx, pgAdminTimeout)
	defer cancel()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", "", fmt.Errorf("create database %s: %w", name, err)
	}
	return name, dbURL, nil
}

// pgDropDatabase drops a database made by pgCreateDatabase, disconnecting
// whatever is still connected to it (a child that was killed).
func pgDropDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgConnect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ctx, cancel := context.WithTimeout(ctx, pgAdminTimeout)
	defer cancel()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// pgWithDatabase returns adminURL with its database replaced by name. Both
// URL ("postgres://...") and keyword/value ("host=... dbname=...")
// connection strings are accepted.
func pgWithDatabase(adminURL, name string) (string, error) {
	if strings.HasPrefix(adminURL, "postgres://") || strings.HasPrefix(adminURL, "postgresql://") {
		u, err := url.Parse(adminURL)
		if err != nil {
			return "", fmt.Errorf("PostgreSQL URL: %w", err)
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	if strings.TrimSpace(adminURL) == "" {
		return "", errors.New("PostgreSQL URL is empty")
	}
	// In a keyword/value string the last occurrence of a keyword wins.
	return adminURL + " dbname=" + name, nil
}

// pgXacts returns the transactions committed and rolled back in database
// name since it was created. PostgreSQL counts them per backend and
// publishes them when the backend goes idle for a while or exits, so the
// caller closes its store first and pgXacts waits until no backend is
// connected to the database: the count is then exact.
func pgXacts(ctx context.Context, adminURL, name string) (int64, error) {
	conn, err := pgConnect(ctx, adminURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ctx, cancel := context.WithTimeout(ctx, pgAdminTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		var backends int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name).Scan(&backends); err != nil {
			return 0, fmt.Errorf("count backends of %s: %w", name, err)
		}
		if backends == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("backends of %s did not exit: %w", name, ctx.Err())
		case <-tick.C:
		}
	}
	// A backend publishes its counters as it exits, just before it leaves
	// pg_stat_activity; a fresh snapshot is taken per statement.
	var xacts int64
	err = conn.QueryRow(ctx, "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1", name).Scan(&xacts)
	if err != nil {
		return 0, fmt.Errorf("transaction count of %s: %w", name, err)
	}
	return xacts, nil
}

// pgRunsStats is what PostgreSQL counted on the runs table of a benchmark
// database since it was created.
type pgRunsStats struct {
	Updates, HOTUpdates, Inserts int64
	Indexes                      int
	// AutoVacuums and AutoAnalyzes count the autovacuum daemon's passes
	// over runs: a pass during a measurement competes for the CPUs.
	AutoVacuums, AutoAnalyzes int64
}

// pgRunsTableStats reads the runs table's counters from database dbURL.
// Call it after pgXacts, which waits until the store's backends have
// exited and so have published their counters.
func pgRunsTableStats(ctx context.Context, dbURL string) (pgRunsStats, error) {
	var s pgRunsStats
	conn, err := pgConnect(ctx, dbURL)
	if err != nil {
		return s, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ctx, cancel := context.WithTimeout(ctx, pgAdminTimeout)
	defer cancel()
	err = conn.QueryRow(ctx, `SELECT t.n_tup_upd, t.n_tup_hot_upd, t.n_tup_ins,
			(SELECT count(*) FROM pg_index i WHERE i.indrelid = t.relid),
			t.autovacuum_count, t.autoanalyze_count
		FROM pg_stat_user_tables t WHERE t.relname = 'runs'`).Scan(&s.Updates, &s.HOTUpdates, &s.Inserts, &s.Indexes, &s.AutoVacuums, &s.AutoAnalyzes)
	if err != nil {
		return s, fmt.Errorf("runs table statistics: %w", err)
	}
	return s, nil
}

// pgWAL is what the server counted of its write-ahead log since its stats
// were reset (pg_stat_wal, cluster-wide).
type pgWAL struct {
	Syncs, Bytes int64
}

// pgWALStats reads pg_stat_wal. The counters are the whole server's, so
// a measurement's difference is its own only on a server that nothing
// else uses, such as the throwaway one of `make bench`; backends publish
// theirs as they exit (see pgXacts), the WAL writer every few hundred
// milliseconds, so the difference may miss a few of the last flushes.
func pgWALStats(ctx context.Context, adminURL string) (pgWAL, error) {
	var w pgWAL
	conn, err := pgConnect(ctx, adminURL)
	if err != nil {
		return w, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ctx, cancel := context.WithTimeout(ctx, pgAdminTimeout)
	defer cancel()
	if err := conn.QueryRow(ctx, "SELECT wal_sync, wal_bytes::bigint FROM pg_stat_wal").Scan(&w.Syncs, &w.Bytes); err != nil {
		return w, fmt.Errorf("read pg_stat_wal: %w", err)
	}
	return w, nil
}
