// Package sqlitestore is the SQLite driver of the storage contract
// (internal/store), over modernc.org/sqlite: pure Go, so the binary stays
// static and cross-builds.
//
// # Connections
//
// The database runs in WAL mode with synchronous=NORMAL (a commit survives
// a process crash; a power cut may lose the last transactions, never
// consistency), foreign keys on and a busy timeout. All writes go through
// one *sql.DB with a single connection whose transactions begin IMMEDIATE;
// reads go through a separate pool of query_only connections, which WAL
// lets read a committed snapshot while the writer works. Trying it showed
// that with deferred transactions most concurrent writers failed with
// SQLITE_BUSY despite the busy timeout (a read lock cannot be upgraded
// while another connection writes); one writer connection removes that
// failure mode and costs nothing, as SQLite admits one writer at a time
// anyway. The busy timeout still matters for a second process on the same
// file (a CLI command next to a server).
//
// # Schema
//
// Migrations are numbered SQL files embedded in the binary and applied by
// goose on Open (and by Migrate, for `connecthub migrate`). Tables are
// STRICT. Times are INTEGER unix microseconds in UTC, durations INTEGER
// nanoseconds, JSON is TEXT. Runs have:
//
//   - a ULID primary key made from the run's CreatedAt with monotonic
//     entropy, so id order is creation order: "newest first" and "oldest
//     first" are plain index walks on the primary key;
//   - a partial unique index on (job_id, scheduled_for) for cron runs, the
//     exactly-once key of the scheduler;
//   - a partial index on (queue, priority DESC, id) over QUEUED runs only,
//     which the claim walks in claim order and stops after Max rows, and
//     which never grows with history;
//   - partial indexes for lease expiry (RUNNING), a job's active runs
//     (QUEUED, RUNNING) and finished runs by status (for listing and
//     counting them), and a plain one for listing a job's runs. Each index
//     costs the queue throughput (a full (status, id) index cost about 12%),
//     so the partial ones are shaped to be untouched by the hot transitions
//     where possible; TestQueryPlans pins the plans that depend on them;
//   - the handler copied out of the snapshot, for the claim's handler filter;
//   - the snapshot's secret token in its own column (snapshot_secret), so no
//     read of the snapshot JSON can carry it.
//
// Run logs live in their own table (run_logs) as append-only chunks keyed
// by byte offset, rather than in a TEXT column of the runs row: an append is
// an insert of the new bytes instead of a rewrite of the whole log, and the
// runs row that claims, heartbeats and completions update stays small.
// runs.log_size is the log's length in bytes.
//
// The node registry (nodes) and API tokens (tokens) came with version 2.
// A node's queues, handlers (with their config schemas) and labels are JSON
// TEXT. Runs name their node by name, without a foreign key: runs outlive
// the nodes that ran them. NodeMarkDead finds a dead node's RUNNING runs
// through runs_lease rather than an index on runs.node, which every claim
// would have to maintain. Tokens keep the hex SHA-256 of their secret in a
// unique column, so authenticating a request is one index lookup.
//
// # Throughput
//
// RunClaim is one UPDATE ... WHERE rowid IN (SELECT ... LIMIT +?) RETURNING
// in one write transaction; the unary plus keeps SQLite from compiling the
// cached statement again whenever the number of runs asked for changes
// (see claimSQL). RunComplete applies a whole batch in one
// transaction: terminal outcomes in multi-row UPDATE ... FROM (VALUES ...)
// statements, re-queues one by one (they need the attempt history).
// RunHeartbeat joins a VALUES table of (id, attempt) pairs the same way.
// RunInsert uses multi-row INSERTs in chunks whose sizes are powers of two,
// so a few cached statements serve every batch size. Prepared statements of
// the writer connection are cached by query text. Notifications
// (store.Hub) are published after commit. The snapshots of the runs read
// back are decoded by a reader that knows store.EncodeSnapshot's output and
// leaves anything else to encoding/json (store.DecodeSnapshot): encoding/json
// took about a tenth of a node's CPU. BenchmarkClaimComplete measures
// insert, claim and complete together. The attempt check of RunComplete
// (RunOutcome.Attempt) is one more comparison in the same statements.
//
// # Rules
//
// The rules of the contract (package store's doc, checked by the
// conformance suite) are package store's code: this driver calls its
// checks, decisions and codecs and holds the SQL. Its own choices:
// JobUpdate's function runs inside the write transaction (on the only
// writer connection), so it must not call the store. NodeMarkDead rescues runs with RunRescue's code, in
// the transaction that marks the nodes; as the only writer, it never finds
// a dead node's run half-way through a heartbeat or completion, so it
// rescues them all. TokenTouch asks a reader whether a write is due before
// it takes the writer, so the touches of ordinary requests never queue
// behind the run queue's writes.
//
// Limits of this driver: JobList's Query folds ASCII case only (SQLite's
// lower()); a second process on the same file waits up to BusyTimeout for
// the write lock.
package sqlitestore
