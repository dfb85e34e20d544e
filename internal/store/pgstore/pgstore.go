// Package pgstore is the PostgreSQL driver of the storage contract
// (internal/store), for deployments with several `connecthub serve`
// replicas sharing one database.
//
// The runs table is the queue. Claims take rows with FOR UPDATE SKIP LOCKED,
// so replicas never wait on each other's claims and never get the same run;
// batches (run inserts, completions, heartbeats, cron firings) are a
// constant number of statements whatever their size.
//
// The queue's hot path is built to keep the server's CPU per run low, as
// the database is what bounds a busy queue. A claim is one UPDATE that
// walks runs_claim and updates the runs it locked by key. A batch of
// terminal outcomes is one UPDATE over the unnested outcomes, not one per
// outcome. Completions and heartbeats lock their runs by key, in id order,
// one LATERAL lookup each, so that their cost follows the batch whatever
// the statistics say of the number of RUNNING runs; TestQueuePlans pins
// these plans. The snapshots of claimed runs are decoded by a reader that
// knows their encoding (store.DecodeSnapshot), as encoding/json took a third of
// a node's CPU.
//
// Commits that make runs claimable, change jobs or request cancels also
// NOTIFY, in the same transaction, so other replicas' workers and
// schedulers wake at once; a dedicated connection LISTENs and re-publishes
// into the in-process Hub.
//
// The node registry and API tokens (migration 2) mirror the SQLite
// driver's tables. NodeMarkDead, like RunRescue, takes the rows it changes
// with SKIP LOCKED: reapers on several replicas split the dead nodes
// instead of waiting, a node whose keepalive is being written is alive and
// skipped, and a dead node's run whose heartbeat or completion is in flight
// is left to lease expiry, so the reaper never waits on the queue. Both
// share one rescue path, so a run ends the same way whichever found it.
// TokenTouch is one UPDATE whose condition writes nothing while the last
// use is recent.
//
// All of a store's objects live in one schema (Options.Schema, or the
// search_path of the URL), so several installations, or many tests, can
// share a database: the migration lock and the notifications are scoped to
// the schema too.
package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// Options tunes the driver. The zero value is the production default.
type Options struct {
	// MaxConns is the size of the connection pool (the LISTEN connection is
	// extra). 0 means 20: the default worker pool of a node needs a few
	// connections at a time, as claims, heartbeats and completions are
	// batched, and the API and scheduler need a few more. It overrides the
	// URL's pool_max_conns.
	MaxConns int32
	// MinConns is how many connections the pool opens at once, in the
	// background, and keeps open, each readied for the run path by
	// warmConn. 0 means 4 (defaultMinConns), at most MaxConns.
	MinConns int32
	// Schema is the schema that holds ConnectHub's tables. It is created if
	// it does not exist, and every connection's search_path is set to it.
	// Empty means the URL's own search_path (by default "public").
	Schema string
	// Logger receives the LISTEN connection's losses and reconnects (WARN
	// and INFO). nil means they are not logged.
	Logger *slog.Logger

	// idleCheck replaces listenIdleCheck in tests.
	idleCheck time.Duration
}

const defaultMaxConns = 20

// schemaPattern accepts the names that need no thought: letters, digits and
// underscores, up to PostgreSQL's 63-byte identifier limit.
var schemaPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

func (o Options) withDefaults() Options {
	if o.MaxConns == 0 {
		o.MaxConns = defaultMaxConns
	}
	if o.MinConns == 0 {
		o.MinConns = min(defaultMinConns, max(o.MaxConns, 1))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.idleCheck == 0 {
		o.idleCheck = listenIdleCheck
	}
	return o
}

func (o Options) validate() error {
	if o.MaxConns < 0 {
		return connecthub.FieldError("max_conns", "", "max connections must not be negative")
	}
	if o.MinConns < 0 || o.MinConns > o.MaxConns {
		return connecthub.FieldError("min_conns", "", "min connections must be between 0 and max connections (%d), got %d", o.MaxConns, o.MinConns)
	}
	if o.Schema != "" && !schemaPattern.MatchString(o.Schema) {
		return connecthub.FieldError("schema", "", "schema %q must be 1-63 letters, digits or underscores, not starting with a digit", o.Schema)
	}
	return nil
}

// Store is the PostgreSQL implementation of store.Store. It is safe for
// concurrent use.
type Store struct {
	store.Hub

	pool     *pgxpool.Pool
	schema   string // the schema the store's tables are in
	instance string // tells this store's notifications from other replicas'
	log      *slog.Logger
	ids      store.IDGen

	listenCfg    *pgx.ConnConfig
	idleCheck    time.Duration
	listenState  listenState
	stopListener context.CancelFunc
	listenerDone chan struct{}

	closed    atomic.Bool
	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (postgres://user:pass@host:port/db?
// sslmode=...), applies the pending migrations under an advisory lock (so
// replicas starting together apply each migration once), starts the
// listener of notifications from other replicas, and returns the store.
// Close it when done.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	poolCfg, err := parseURL(url, opts.Schema)
	if err != nil {
		return nil, err
	}
	cfg := poolCfg.ConnConfig
	schema, err := migrate(ctx, cfg, opts.Schema, nil)
	if err != nil {
		return nil, err
	}

	poolCfg.MaxConns = opts.MaxConns
	poolCfg.MinConns = opts.MinConns
	poolCfg.AfterConnect = warmConn
	// Recycle connections now and then, so a pool behind a load balancer
	// or failover proxy spreads out again; idle ones go sooner.
	poolCfg.MaxConnLifetime = time.Hour
	poolCfg.MaxConnIdleTime = 5 * time.Minute
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, openErr(err, cfg.Password)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, openErr(err, cfg.Password)
	}

	var instance [8]byte
	_, _ = rand.Read(instance[:]) // never fails: it crashes the program instead
	s := &Store{
		pool:         pool,
		schema:       schema,
		instance:     hex.EncodeToString(instance[:]),
		log:          opts.Logger,
		listenCfg:    cfg.Copy(),
		idleCheck:    opts.idleCheck,
		listenerDone: make(chan struct{}),
	}
	s.listenCfg.RuntimeParams["application_name"] = cfg.RuntimeParams["application_name"] + "-listener"
	// The first LISTEN happens before Open returns: a notification
	// committed by another replica right after Open must not be missed.
	conn, err := s.connectListener(ctx)
	if err != nil {
		pool.Close()
		return nil, openErr(err, cfg.Password)
	}
	lctx, stop := context.WithCancel(context.Background())
	s.stopListener = stop
	go s.listen(lctx, conn)
	return s, nil
}

// Migrate applies the pending migrations to the database at url (in the
// schema its search_path names) and returns the versions it applied, none
// when the schema is already current. Open does the same; this is for
// `connecthub migrate`, which wants to report what it did.
func Migrate(ctx context.Context, url string) ([]int64, error) {
	cfg, err := parseURL(url, "")
	if err != nil {
		return nil, err
	}
	var versions []int64
	_, err = migrate(ctx, cfg.ConnConfig, "", &versions)
	return versions, err
}

// parseURL parses and checks the connection URL and applies the settings
// every connection of the store shares.
func parseURL(url, schema string) (*pgxpool.Config, error) {
	if url == "" {
		return nil, connecthub.FieldError("db_url", "", "the PostgreSQL URL is empty")
	}
	poolCfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message names the problem and masks the password.
		return nil, &connecthub.Error{Kind: connecthub.KindInvalid, Code: "invalid_db_url", Field: "db_url",
			Message: "invalid PostgreSQL URL: " + err.Error(), Err: err}
	}
	cfg := poolCfg.ConnConfig
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "connecthub"
	}
	if schema != "" {
		cfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	}
	return poolCfg, nil
}

// openErr is the error of a database that could not be reached. Its
// message names the cause underneath (see connectCause); password is the
// URL's, which the message must never show.
func openErr(err error, password string) error {
	var ce *connecthub.Error
	if errors.As(err, &ce) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return dbErr(err)
	}
	return &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "db_unavailable",
		Message: "cannot connect to PostgreSQL: " + connectCause(err, password), Err: err}
}

// connectCause says why a connection failed: in the server's words when it
// answered (`database "hub" does not exist`, `password authentication
// failed for user "alice"`), else in the network's (`dial tcp
// 10.0.0.5:5432: connect: connection refused`). Whatever it says, the
// password is cut out of it, in case some layer quoted the URL.
func connectCause(err error, password string) string {
	var pgErr *pgconn.PgError
	var opErr *net.OpError
	var cause string
	switch {
	case errors.As(err, &pgErr):
		cause = pgErr.Message
	case errors.As(err, &opErr):
		cause = opErr.Error()
	default:
		cause = err.Error()
	}
	if password != "" {
		cause = strings.ReplaceAll(cause, password, "xxxxx")
	}
	return cause
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return dbErr(errStoreClosed)
	}
	return dbErr(s.pool.Ping(ctx))
}

// Close implements store.Store: it stops the listener and closes the pool,
// waiting for statements in flight. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.stopListener()
		<-s.listenerDone
		s.pool.Close()
	})
	return nil
}

// Schema returns the schema that holds the store's tables.
func (s *Store) Schema() string { return s.schema }

// tx runs fn in one transaction and commits it, or rolls it back when fn
// fails. fn's error is returned unchanged (callers map database errors with
// dbErr), so that an error from a caller's callback reaches the caller as it
// was.
func (s *Store) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	if s.closed.Load() {
		return dbErr(errStoreClosed)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return dbErr(err)
	}
	// Rollback after Commit is a no-op; on every other path (an error or a
	// panic in fn) it ends the transaction and frees the connection.
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return err
	}
	// The audit entry of the change, when the caller gave one, commits
	// with it or not at all.
	audit, done := store.AuditToWrite(ctx)
	if audit != nil {
		if err := insertAudit(ctx, tx, audit); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return dbErr(err)
	}
	done()
	return nil
}

// inTx is tx as the rules layer takes it (store.Modify and friends), with
// the errors that are not yet mapped mapped by dbErr.
func (s *Store) inTx(ctx context.Context) store.InTx[pgx.Tx] {
	return func(fn func(pgx.Tx) error) error { return dbErr(s.tx(ctx, fn)) }
}

// sendBatch sends b in one round trip and runs fn on its results. Without
// explicit transaction statements, PostgreSQL runs a batch as one implicit
// transaction: all its statements commit together or not at all.
func (s *Store) sendBatch(ctx context.Context, b *pgx.Batch, fn func(br pgx.BatchResults) error) error {
	if s.closed.Load() {
		return dbErr(errStoreClosed)
	}
	if e, _ := store.AuditToWrite(ctx); e != nil {
		// An audited change: the batch runs in an explicit transaction
		// that also writes its audit entry, and commits only when fn
		// found the batch did what it should.
		return s.tx(ctx, func(tx pgx.Tx) error {
			br := tx.SendBatch(ctx, b)
			err := fn(br)
			if cerr := br.Close(); err == nil {
				err = cerr
			}
			return err
		})
	}
	br := s.pool.SendBatch(ctx, b)
	err := fn(br)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// db returns the pool, or an error once the store is closed.
func (s *Store) db() (*pgxpool.Pool, error) {
	if s.closed.Load() {
		return nil, dbErr(errStoreClosed)
	}
	return s.pool, nil
}

// ConnectionsInUse reports the pool's connections acquired right now, for
// the connecthub_db_connections_active metric (the LISTEN connection is not
// counted).
func (s *Store) ConnectionsInUse() int {
	return int(s.pool.Stat().AcquiredConns())
}
