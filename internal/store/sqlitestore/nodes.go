package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// nodeUpsertSQL inserts a node or refreshes the one of the same name. The
// update leaves registered_at and setting_state alone: the first
// registration time is history, and an operator's stop must outlive a
// restart of the node.
const nodeUpsertSQL = `INSERT INTO nodes (` + store.NodeColumns + `)
	VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
	ON CONFLICT (name) DO UPDATE SET kind = ?2, version = ?3, endpoint = ?4, queues = ?5,
		handlers = ?6, max_concurrency = ?7, metrics_port = ?8, labels = ?9,
		present_state = ?11, last_heartbeat = ?13, running = ?14, owner_token = ?15`

// NodeUpsert implements store.NodeStore in one statement.
func (s *Store) NodeUpsert(ctx context.Context, n *connecthub.Node) error {
	args, err := nodeArgs(n)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, nodeUpsertSQL, args...)
		return dbErr(err)
	})
}

// NodeKeepalive implements store.NodeStore. A keepalive without a state
// from a node declared dead makes it active again (see the contract).
func (s *Store) NodeKeepalive(ctx context.Context, p store.NodeKeepaliveParams) (*connecthub.Node, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var n *connecthub.Node
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		var err error
		n, err = scanNode(tx.QueryRowxContext(ctx, `UPDATE nodes SET last_heartbeat = ?1, running = ?2,
			present_state = CASE WHEN ?3 <> '' THEN ?3 WHEN present_state = 'inactive' THEN 'active' ELSE present_state END
			WHERE name = ?4 RETURNING `+store.NodeColumns,
			micros(p.Now), int64(p.Running), p.PresentState, p.Name))
		return nodeErr(err, p.Name)
	})
	return n, err
}

// NodeGet implements store.NodeStore.
func (s *Store) NodeGet(ctx context.Context, name string) (*connecthub.Node, error) {
	var n *connecthub.Node
	err := s.read(ctx, func(tx *sqlx.Tx) error {
		var err error
		n, err = scanNode(tx.QueryRowxContext(ctx, `SELECT `+store.NodeColumns+` FROM nodes WHERE name = ?`, name))
		return nodeErr(err, name)
	})
	return n, err
}

// NodeList implements store.NodeStore. SQLite compares TEXT bytewise (the
// BINARY collation), so the order is the one Go's strings.Compare gives.
func (s *Store) NodeList(ctx context.Context) ([]*connecthub.Node, error) {
	var nodes []*connecthub.Node
	err := s.read(ctx, func(tx *sqlx.Tx) error {
		var err error
		nodes, err = queryAll(ctx, tx, scanNode, `SELECT `+store.NodeColumns+` FROM nodes ORDER BY name`)
		return err
	})
	return nodes, err
}

// NodeSetState implements store.NodeStore.
func (s *Store) NodeSetState(ctx context.Context, name, settingState string) (*connecthub.Node, error) {
	if err := store.CheckSettingState(settingState); err != nil {
		return nil, err
	}
	var n *connecthub.Node
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		var err error
		n, err = scanNode(tx.QueryRowxContext(ctx, `UPDATE nodes SET setting_state = ? WHERE name = ? RETURNING `+store.NodeColumns,
			settingState, name))
		return nodeErr(err, name)
	})
	return n, err
}

// NodeDelete implements store.NodeStore.
func (s *Store) NodeDelete(ctx context.Context, name string) error {
	return s.write(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM nodes WHERE name = ?`, name)
		if err != nil {
			return dbErr(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return dbErr(err)
		} else if n == 0 {
			return connecthub.NotFound("node", name)
		}
		return nil
	})
}

// NodeMarkDead implements store.NodeStore in one write transaction: it
// marks the silent nodes, then rescues their RUNNING runs through the same
// code as RunRescue. The runs are found through the runs_lease index
// (RUNNING runs only), which is bounded by the work in flight, so the runs
// table needs no index on node, which every claim would have to maintain.
// The single writer means no heartbeat or completion can be half-way
// through a run here, so every run of a dead node is rescued.
func (s *Store) NodeMarkDead(ctx context.Context, deadBefore, now time.Time) ([]*connecthub.Node, []*connecthub.Run, error) {
	var (
		requeued bool
		chained  store.ChainStarted
	)
	dead, rescued, err := store.MarkDead(s.inTx(ctx), deadBefore, now, func(tx *sqlx.Tx) ([]*connecthub.Node, error) {
		return queryAll(ctx, tx, scanNode, `UPDATE nodes SET present_state = 'inactive'
			WHERE present_state <> 'inactive' AND last_heartbeat < ? RETURNING `+store.NodeColumns, micros(deadBefore))
	}, func(tx *sqlx.Tx, names []string) (r []*connecthub.Run, err error) {
		args := make([]any, len(names))
		for i, n := range names {
			args[i] = n
		}
		var found []rescueCandidate
		if err := tx.SelectContext(ctx, &found, nodeRunsSQL(len(names)), args...); err != nil {
			return nil, dbErr(err)
		}
		r, requeued, chained, err = s.rescueRuns(ctx, tx, found, now)
		return r, err
	})
	if err != nil {
		return nil, nil, err
	}
	if requeued {
		s.Publish(store.TopicRuns)
	}
	s.publishChains(chained)
	return dead, rescued, nil
}

// nodeRunsSQL selects the rescueCandidates of the RUNNING runs of n nodes,
// in id order, through the runs_lease index: the unary + keeps SQLite from
// preferring the primary key for the ORDER BY, which would walk the whole
// table.
func nodeRunsSQL(n int) string {
	return `SELECT ` + rescueCandidateColumns + ` FROM runs
		WHERE status = 'RUNNING' AND node IN (` + placeholders(n) + `) ORDER BY +id`
}

// NodeClean implements store.NodeStore.
func (s *Store) NodeClean(ctx context.Context, olderThan time.Time) (int64, error) {
	if err := store.CheckTime("older_than", olderThan); err != nil {
		return 0, err
	}
	var n int64
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM nodes WHERE present_state = 'inactive' AND last_heartbeat < ?`,
			micros(olderThan))
		if err != nil {
			return dbErr(err)
		}
		n, err = res.RowsAffected()
		return dbErr(err)
	})
	return n, err
}

// nodeErr maps the error of a statement that reads one node.
func nodeErr(err error, name string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return connecthub.NotFound("node", name)
	}
	return dbErr(err)
}

// nodeArgs checks a registration and returns the values of store.NodeColumns.
func nodeArgs(n *connecthub.Node) ([]any, error) {
	row, err := store.PrepareNode(n)
	if err != nil {
		return nil, err
	}
	return []any{
		n.Name, n.Kind, n.Version, n.Endpoint, row.Queues, row.Handlers, int64(n.MaxConcurrency), int64(n.MetricsPort),
		row.Labels, row.Setting, row.Present, micros(n.RegisteredAt), micros(n.LastHeartbeat), int64(n.Running), n.OwnerToken,
	}, nil
}

func scanNode(sc scanner) (*connecthub.Node, error) {
	return store.ScanNode(sc, fromMicros)
}
