// Package dbadmin holds the commands that work on a node's database
// directly rather than through a running server's API: applying
// migrations, rebuilding the maintained run counts, and importing from
// and exporting back to the Python ConnectHub. The CLI gives them flags
// and prints what they return; they open the store and the key the way a
// node does (internal/server), so that they see what the node sees.
package dbadmin

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/server"
	"github.com/connecthub/connecthub/internal/store/pgstore"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
)

// Migrate applies the migrations the database lacks and returns their
// versions, none when it is up to date. A SQLite database's directory is
// created first, as serve does.
func Migrate(ctx context.Context, cfg *config.Config) ([]int64, error) {
	if cfg.DBDriver() == config.DriverPostgres {
		return pgstore.Migrate(ctx, cfg.DBURL)
	}
	path := cfg.SQLitePath()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return sqlitestore.Migrate(ctx, path)
}

// RebuildStats recomputes the maintained run counts from the runs table
// in one transaction and returns the counts after it with the time it
// took: the repair for counts a manual edit of the database put wrong.
func RebuildStats(ctx context.Context, cfg *config.Config) (*connecthub.Stats, time.Duration, error) {
	st, err := server.OpenStore(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, 0, err
	}
	defer st.Close()
	start := time.Now()
	if err := st.StatsRebuild(ctx, start); err != nil {
		return nil, 0, fmt.Errorf("rebuild the run counts: %w", err)
	}
	s, err := st.Stats(ctx, time.Now())
	return s, time.Since(start), err
}
