package pgstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/connecthub/connecthub/internal/testpg"
)

// TestWarmConnections checks that the pool opens its MinConns connections
// by itself and readies each for the run path before handing it out: on a
// connection no caller has used, the claim is already prepared with its
// generic plan built, and the insert, completion and heartbeat statements
// are prepared (warmConn).
func TestWarmConnections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		want int32
	}{
		{"default", Options{}, defaultMinConns},
		{"capped by max", Options{MaxConns: 2}, 2},
		{"explicit", Options{MinConns: 1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(t.Context(), testpg.URL(t), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			eventually(t, fmt.Sprintf("the pool's %d connections", tt.want), func() bool {
				return s.pool.Stat().TotalConns() >= tt.want
			})
			conn, err := s.pool.Acquire(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Release()
			for _, st := range []struct {
				name, sql  string
				genericMin int64
			}{
				{"claim", claimSQL, 1},
				{"insert", insertRunsSQL, 0},
				{"complete", completeBatchSQL, 0},
				{"heartbeat", heartbeatSQL, 0},
			} {
				var generic int64
				err := conn.QueryRow(t.Context(), `SELECT generic_plans FROM pg_prepared_statements WHERE statement = $1`, st.sql).Scan(&generic)
				if err != nil {
					t.Errorf("%s: not prepared on a new connection: %v", st.name, err)
					continue
				}
				if generic < st.genericMin {
					t.Errorf("%s: %d generic plans on a new connection, want at least %d", st.name, generic, st.genericMin)
				}
			}
		})
	}
}

// TestWarmConnectionWhileRunsLocked checks that a connection opened while
// another session holds the runs table (a replica's migration) is handed
// out after warmLockTimeout, unwarmed, and serves a read that does not
// need the table, rather than waiting for the lock; and that it is left
// with the session's own lock timeout, outside any transaction.
func TestWarmConnectionWhileRunsLocked(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{MinConns: 1, MaxConns: 5})
	// Hold every connection the pool has, once it has stopped opening
	// them, so that the next Acquire opens one.
	eventually(t, "the pool to settle", func() bool {
		st := s.pool.Stat()
		return st.TotalConns() >= 1 && st.TotalConns() == st.IdleConns()
	})
	held := s.pool.AcquireAllIdle(t.Context())
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	if len(held) == 0 {
		t.Fatal("no idle connection to hold")
	}
	tx, err := held[0].Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if _, err := tx.Exec(t.Context(), `LOCK TABLE runs IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatalf("a connection opened while runs is locked: %v", err)
	}
	defer conn.Release()
	if st := conn.Conn().PgConn().TxStatus(); st != 'I' {
		t.Errorf("the new connection's transaction status is %q, want idle", st)
	}
	var jobs int
	var lockTimeout string
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM jobs), current_setting('lock_timeout')`).Scan(&jobs, &lockTimeout); err != nil {
		t.Fatalf("a read on the new connection: %v", err)
	}
	if lockTimeout != "0" {
		t.Errorf("the new connection's lock_timeout is %q, want the session default 0", lockTimeout)
	}
}
