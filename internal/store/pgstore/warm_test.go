package pgstore

import (
	"testing"
	"time"
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
			s := openTest(t, tt.opts)
			deadline := time.Now().Add(30 * time.Second)
			for s.pool.Stat().TotalConns() < tt.want {
				if time.Now().After(deadline) {
					t.Fatalf("the pool holds %d connections after 30s, want %d", s.pool.Stat().TotalConns(), tt.want)
				}
				time.Sleep(5 * time.Millisecond)
			}
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
