package pgstore

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// TestQueuePlans checks the plans of the queue's statements when the
// statistics are stale in the way a busy queue makes them: analyzed while
// every run was QUEUED, then runs claimed in bulk. Such statistics make a
// status index look nearly empty, and a plan that walks it would visit
// every RUNNING run (and every dead version of one) for each id of a
// batch. Completions (and their locks before re-queues) and heartbeats
// must look each run up by its key, and claims must walk runs_claim and
// then update by key, in generic plans (which a prepared statement may
// settle on) and in custom ones.
func TestQueuePlans(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	ctx := t.Context()
	j := testJob("j")
	if err := s.JobCreate(ctx, j); err != nil {
		t.Fatal(err)
	}
	const total, claimed = 5000, 2000
	for i := 0; i < total; i += 1000 {
		batch := make([]*connecthub.Run, 1000)
		for k := range batch {
			batch[k] = connecthub.NewRun(j, connecthub.TriggerAPI, now0, now0, "")
		}
		if err := s.RunInsert(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE runs`); err != nil {
		t.Fatal(err)
	}
	runs, err := s.RunClaim(ctx, store.RunClaimParams{Node: "n", Queues: []string{connecthub.DefaultQueue},
		Max: claimed, LeaseTTL: time.Minute, Now: now0})
	if err != nil || len(runs) != claimed {
		t.Fatalf("claim: %d runs, %v", len(runs), err)
	}
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = runs[i].ID
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, mode := range []string{"force_generic_plan", "force_custom_plan"} {
		for _, tt := range queuePlanCases(ids) {
			checkQueuePlan(t, conn.Conn(), mode, "", tt)
		}
	}
}

// TestClaimPlanOnEmptyTable checks the claim's generic plan where it is
// built: when a connection is readied, which on a new installation is an
// empty runs table, never analyzed or analyzed while empty. Such a table
// looks so small that a sequential scan seems cheapest, and the plan
// would keep it while the table fills (see claimPlanSQL). The claim must
// still walk runs_claim and update by TID.
func TestClaimPlanOnEmptyTable(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	ctx := t.Context()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, state := range []string{"never analyzed", "analyzed"} {
		if state == "analyzed" {
			if _, err := conn.Exec(ctx, `ANALYZE runs`); err != nil {
				t.Fatal(err)
			}
		}
		for _, tt := range queuePlanCases([]string{"a", "b"}) {
			if tt.query == claimSQL || tt.query == claimPrefixSQL {
				checkQueuePlan(t, conn.Conn(), "force_generic_plan", state, tt)
			}
		}
	}
}

// queuePlanCase is a queue statement, the arguments to explain it with,
// the settings its transaction runs it with and the indexes its plan must
// use.
type queuePlanCase struct {
	name, query, types, args, settings string
	uses                               []string
}

// queuePlanCases are the queue's statements, explained for the runs ids.
func queuePlanCases(ids []string) []queuePlanCase {
	idArray := "ARRAY['" + strings.Join(ids, "','") + "']"
	at := "'" + now0.Format(time.RFC3339Nano) + "'::timestamptz"
	fill := func(v string) string { return fmt.Sprintf("array_fill(%s, ARRAY[%d])", v, len(ids)) }
	return []queuePlanCase{
		{"claim", claimSQL, "text, timestamptz, timestamptz, text[], integer, text[]",
			"'m', " + at + ", " + at + ", ARRAY['default'], 20, ARRAY[]::text[]", claimPlanSQL, []string{"runs_claim", "Tid Scan on runs"}},
		{"claim with handler prefixes", claimPrefixSQL, "text, timestamptz, timestamptz, text[], integer, text[], text[]",
			"'m', " + at + ", " + at + ", ARRAY['default'], 20, ARRAY['noop']::text[], ARRAY['py:']::text[]", claimPlanSQL,
			[]string{"runs_claim", "Tid Scan on runs"}},
		{"complete", completeBatchSQL, "text[], text[], timestamptz[], text[], text[], text[], text[], text[], integer[]",
			strings.Join([]string{idArray, fill("'SUCCESS'::text"), fill(at), fill("''::text"), fill("''::text"),
				fill("''::text"), fill("NULL::text"), fill("'n'::text"), fill("0")}, ", "), "", []string{"runs_pkey"}},
		{"lock for re-queues", lockRunningSQL, "text[]", idArray, "", []string{"runs_pkey"}},
		{"rescue", rescueSQL, "timestamptz, integer", at + ", 100", "", []string{"runs_running"}},
		{"heartbeat", heartbeatSQL, "timestamptz, timestamptz, text, text[], integer[]",
			at + ", " + at + ", 'n', " + idArray + ", " + fill("0"), "", []string{"runs_pkey"}},
	}
}

// checkQueuePlan explains tt under plan_cache_mode mode, after its
// settings, and checks that the plan uses the indexes it must, no other
// status index, and no sequential scan of runs. state names the table's
// state in the error.
func checkQueuePlan(t *testing.T, conn *pgx.Conn, mode, state string, tt queuePlanCase) {
	t.Helper()
	plan := explainPrepared(t, conn, tt.settings, mode, tt.query, tt.types, tt.args)
	name := strings.Join(slices.DeleteFunc([]string{tt.name, mode, state}, func(s string) bool { return s == "" }), ", ")
	for _, index := range []string{"runs_status", "runs_running", "runs_queued_job", "runs_claim"} {
		if strings.Contains(plan, index) && !slices.Contains(tt.uses, index) {
			t.Errorf("%s: the plan uses the status index %s:\n%s", name, index, plan)
		}
	}
	for _, index := range tt.uses {
		if !strings.Contains(plan, index) {
			t.Errorf("%s: the plan does not use %s:\n%s", name, index, plan)
		}
	}
	if strings.Contains(plan, "Seq Scan on runs") {
		t.Errorf("%s: the plan scans runs:\n%s", name, plan)
	}
}

// explainPrepared prepares query with parameter types and returns the
// plan of executing it with args, after settings (a statement, or "") and
// under plan_cache_mode mode, without changing anything (the EXPLAIN
// ANALYZE is rolled back, and so are the settings).
func explainPrepared(t *testing.T, conn *pgx.Conn, settings, mode, query, types, args string) string {
	t.Helper()
	ctx := t.Context()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if settings != "" {
		if _, err := tx.Exec(ctx, settings); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = "+mode); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "PREPARE explained ("+types+") AS "+query); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE explained("+args+")")
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "DEALLOCATE explained"); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestClaimSettingsStayInTheirTransaction checks that what a claim sets for
// its own transaction (a generic plan without sequential scans, a commit
// without waiting for the WAL flush) is gone once it commits: the next
// statement on the same connection, whatever it is, plans and commits as
// configured.
func TestClaimSettingsStayInTheirTransaction(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{MaxConns: 1})
	ctx := t.Context()
	j := testJob("j")
	if err := s.JobCreate(ctx, j); err != nil {
		t.Fatal(err)
	}
	runs := []*connecthub.Run{connecthub.NewRun(j, connecthub.TriggerAPI, now0, now0, ""),
		connecthub.NewRun(j, connecthub.TriggerAPI, now0, now0, "")}
	if err := s.RunInsert(ctx, runs); err != nil {
		t.Fatal(err)
	}
	claim := store.RunClaimParams{Node: "n", Queues: []string{connecthub.DefaultQueue}, Max: 1, LeaseTTL: time.Minute, Now: now0}
	read := func() (sync, plan string) {
		t.Helper()
		var seqscan string
		if err := s.pool.QueryRow(ctx, `SELECT current_setting('synchronous_commit'), current_setting('plan_cache_mode'),
			current_setting('enable_seqscan')`).Scan(&sync, &plan, &seqscan); err != nil {
			t.Fatal(err)
		}
		return sync, plan + ", enable_seqscan " + seqscan
	}
	// The test cluster commits without flushing anyway: compare with what
	// the connection had before, and make sure the claim changes it.
	if _, err := s.pool.Exec(ctx, `SET synchronous_commit = remote_write`); err != nil {
		t.Fatal(err)
	}
	sync0, plan0 := read()
	settings := func(step string) {
		t.Helper()
		if sync, plan := read(); sync != sync0 || plan != plan0 {
			t.Errorf("after %s: synchronous_commit %q, plan settings %q; want %q, %q", step, sync, plan, sync0, plan0)
		}
	}
	first, err := s.RunClaim(ctx, claim)
	if err != nil || len(first) != 1 {
		t.Fatalf("claim: %d runs, %v", len(first), err)
	}
	settings("a claim")
	out := []store.RunOutcome{{ID: first[0].ID, Status: connecthub.StatusSuccess, Node: "n", Now: now0, Attempt: first[0].Attempt}}
	applied, second, err := s.RunCompleteAndClaim(ctx, out, claim)
	if err != nil || len(second) != 1 || !applied[0] {
		t.Fatalf("complete and claim: applied %v, %d runs, %v", applied, len(second), err)
	}
	settings("a completion with a claim")
}
