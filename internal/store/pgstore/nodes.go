package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// nodeUpsertSQL inserts a node or refreshes the one of the same name. The
// update leaves registered_at and setting_state alone: the first
// registration time is history, and an operator's stop must outlive a
// restart of the node.
const nodeUpsertSQL = `INSERT INTO nodes (` + store.NodeColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
	ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, version = EXCLUDED.version,
		endpoint = EXCLUDED.endpoint, queues = EXCLUDED.queues, handlers = EXCLUDED.handlers,
		max_concurrency = EXCLUDED.max_concurrency, metrics_port = EXCLUDED.metrics_port,
		labels = EXCLUDED.labels, present_state = EXCLUDED.present_state,
		last_heartbeat = EXCLUDED.last_heartbeat, running = EXCLUDED.running, owner_token = EXCLUDED.owner_token`

// NodeUpsert implements store.NodeStore in one statement.
func (s *Store) NodeUpsert(ctx context.Context, n *connecthub.Node) error {
	args, err := nodeArgs(n)
	if err != nil {
		return err
	}
	db, err := s.db()
	if err != nil {
		return err
	}
	_, err = db.Exec(ctx, nodeUpsertSQL, args...)
	return dbErr(err)
}

// NodeKeepalive implements store.NodeStore. A keepalive without a state
// from a node declared dead makes it active again (see the contract).
func (s *Store) NodeKeepalive(ctx context.Context, p store.NodeKeepaliveParams) (*connecthub.Node, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	switch {
	case !storable(p.Name):
		return nil, connecthub.NotFound("node", p.Name)
	}
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	n, err := scanNode(db.QueryRow(ctx, `UPDATE nodes SET last_heartbeat = $1, running = $2,
		present_state = CASE WHEN $3::text <> '' THEN $3::text WHEN present_state = 'inactive' THEN 'active' ELSE present_state END
		WHERE name = $4 RETURNING `+store.NodeColumns,
		utc(p.Now), int32(p.Running), p.PresentState, p.Name))
	return n, notFound(err, "node", p.Name)
}

// NodeGet implements store.NodeStore.
func (s *Store) NodeGet(ctx context.Context, name string) (*connecthub.Node, error) {
	if !storable(name) {
		return nil, connecthub.NotFound("node", name)
	}
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	n, err := scanNode(db.QueryRow(ctx, `SELECT `+store.NodeColumns+` FROM nodes WHERE name = $1`, name))
	return n, notFound(err, "node", name)
}

// NodeList implements store.NodeStore. The name column's "C" collation
// makes the order bytewise, as in the SQLite driver.
func (s *Store) NodeList(ctx context.Context) ([]*connecthub.Node, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	return queryList(ctx, db, scanNode, `SELECT `+store.NodeColumns+` FROM nodes ORDER BY name`)
}

// NodeSetState implements store.NodeStore.
func (s *Store) NodeSetState(ctx context.Context, name, settingState string) (*connecthub.Node, error) {
	if err := store.CheckSettingState(settingState); err != nil {
		return nil, err
	}
	if !storable(name) {
		return nil, connecthub.NotFound("node", name)
	}
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	n, err := scanNode(db.QueryRow(ctx, `UPDATE nodes SET setting_state = $1 WHERE name = $2 RETURNING `+store.NodeColumns,
		settingState, name))
	return n, notFound(err, "node", name)
}

// NodeDelete implements store.NodeStore.
func (s *Store) NodeDelete(ctx context.Context, name string) error {
	if !storable(name) {
		return connecthub.NotFound("node", name)
	}
	db, err := s.db()
	if err != nil {
		return err
	}
	tag, err := db.Exec(ctx, `DELETE FROM nodes WHERE name = $1`, name)
	if err != nil {
		return dbErr(err)
	}
	if tag.RowsAffected() == 0 {
		return connecthub.NotFound("node", name)
	}
	return nil
}

// NodeMarkDead implements store.NodeStore in one transaction. The silent
// nodes are locked with SKIP LOCKED, so reapers on several replicas split
// them rather than wait, and a node whose keepalive is being written right
// now (it is alive) is skipped; the outer conditions are checked again on
// the locked rows. Their RUNNING runs are then locked with SKIP LOCKED too
// and rescued by the same code as RunRescue: a run whose heartbeat or
// completion is in flight is left to lease expiry, and nothing here ever
// waits for a lock, so it cannot deadlock with the queue. The runs are
// found through the runs_running index (RUNNING runs only), which is bounded
// by the work in flight, so the runs table needs no index on node, which
// every claim would have to maintain.
func (s *Store) NodeMarkDead(ctx context.Context, deadBefore, now time.Time) ([]*connecthub.Node, []*connecthub.Run, error) {
	var requeued bool
	dead, rescued, err := store.MarkDead(s.inTx(ctx), deadBefore, now, func(tx pgx.Tx) ([]*connecthub.Node, error) {
		return queryList(ctx, tx, scanNode, `UPDATE nodes SET present_state = 'inactive'
			WHERE name IN (
				SELECT name FROM nodes WHERE present_state <> 'inactive' AND last_heartbeat < $1
				ORDER BY name FOR UPDATE SKIP LOCKED)
			AND present_state <> 'inactive' AND last_heartbeat < $1
			RETURNING `+store.NodeColumns, utc(deadBefore))
	}, func(tx pgx.Tx, names []string) (r []*connecthub.Run, err error) {
		found, err := lockRescueCandidates(ctx, tx, `SELECT `+rescueCandidateColumns+`
			FROM runs WHERE status = 'RUNNING' AND node = ANY($1)
			ORDER BY id FOR NO KEY UPDATE SKIP LOCKED`, names)
		if err != nil {
			return nil, err
		}
		r, requeued, err = s.rescueRuns(ctx, tx, found, now)
		return r, err
	})
	if requeued && err == nil {
		s.Publish(store.TopicRuns)
	}
	return dead, rescued, err
}

// NodeClean implements store.NodeStore.
func (s *Store) NodeClean(ctx context.Context, olderThan time.Time) (int64, error) {
	if err := store.CheckTime("older_than", olderThan); err != nil {
		return 0, err
	}
	db, err := s.db()
	if err != nil {
		return 0, err
	}
	tag, err := db.Exec(ctx, `DELETE FROM nodes WHERE present_state = 'inactive' AND last_heartbeat < $1`, utc(olderThan))
	if err != nil {
		return 0, dbErr(err)
	}
	return tag.RowsAffected(), nil
}

// storable reports whether a PostgreSQL text column can hold s. A key that
// cannot be stored cannot be found either, and saying so beats the
// server's "invalid byte sequence" error.
func storable(s string) bool { return cleanText(s) == s }

// nodeArgs checks a registration and returns the values of store.NodeColumns.
func nodeArgs(n *connecthub.Node) ([]any, error) {
	row, err := store.PrepareNode(n)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct{ name, value string }{
		{"name", n.Name}, {"kind", n.Kind}, {"version", n.Version}, {"endpoint", n.Endpoint}, {"owner_token", n.OwnerToken},
	} {
		if !storable(f.value) {
			return nil, connecthub.FieldError(f.name, "", "%s must be UTF-8 text without NUL characters", f.name)
		}
	}
	return []any{
		n.Name, n.Kind, n.Version, n.Endpoint, row.Queues, row.Handlers, int32(n.MaxConcurrency), int32(n.MetricsPort),
		row.Labels, row.Setting, row.Present, utc(n.RegisteredAt), utc(n.LastHeartbeat), int32(n.Running), n.OwnerToken,
	}, nil
}

func scanNode(row pgx.Row) (*connecthub.Node, error) {
	return store.ScanNode(row, utc)
}
