package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/scheduler"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/server"
	"github.com/connecthub/connecthub/internal/service"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/store/pgstore"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
	"github.com/connecthub/connecthub/internal/worker"
)

// openStore opens the database with the driver's default options, as serve
// does: the benchmark measures the store a deployment gets.
func openStore(ctx context.Context, driver, dsn string, log *slog.Logger) (store.Store, error) {
	switch driver {
	case "sqlite":
		return sqlitestore.Open(ctx, dsn, sqlitestore.Options{})
	case "postgres":
		return pgstore.Open(ctx, dsn, pgstore.Options{Logger: log})
	}
	return nil, fmt.Errorf("unknown driver %q", driver)
}

// env is what a measurement works with: the store, the keyring and the
// handlers, and a service to create jobs through, as the API does.
type env struct {
	driver, dsn string
	dir         string
	st          store.Store
	keys        *secret.Keyring
	reg         *handler.Registry
	svc         *service.Service
	log         *slog.Logger
}

// newEnv opens the store and builds what serve builds before its services:
// the key file in dir, the handler registry (with the noop handler timed
// when starts is not nil) and the service.
func newEnv(ctx context.Context, driver, dsn, dir string, starts *handlerStarts, log *slog.Logger) (*env, error) {
	keys, _, err := secret.LoadOrCreate(filepath.Join(dir, "fernet.key"))
	if err != nil {
		return nil, err
	}
	reg, err := registry(starts)
	if err != nil {
		return nil, err
	}
	e := &env{driver: driver, dsn: dsn, dir: dir, keys: keys, reg: reg, log: log}
	if err := e.open(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// open (re)opens the store and the service over it.
func (e *env) open(ctx context.Context) error {
	st, err := openStore(ctx, e.driver, e.dsn, e.log)
	if err != nil {
		return err
	}
	svc, err := service.New(service.Config{
		Store: st, Keys: e.keys, Registry: e.reg, Logger: e.log,
		Defaults: connecthub.JobDefaults{Timezone: config.DefaultTimezone, RetryBackoff: connecthub.Duration(config.DefaultRetryBackoff)},
	})
	if err != nil {
		st.Close()
		return err
	}
	e.st, e.svc = st, svc
	return nil
}

// close closes the store.
func (e *env) close() error {
	if e.st == nil {
		return nil
	}
	err := e.st.Close()
	e.st, e.svc = nil, nil
	return err
}

// node is one ConnectHub node, started by internal/server as serve starts
// it, with the default configuration except the number of workers, on a
// loopback port. Its Source and the scheduler's store are wrapped by
// observers that only count.
type node struct {
	srv    *server.Server
	name   string
	src    *countingSource
	fires  *fireRecorder
	cancel context.CancelFunc
	done   chan error // Run's result
}

// startNode builds and starts a node: newNode, then start.
func startNode(ctx context.Context, e *env, workers, want, wantFired int) (*node, error) {
	n, err := newNode(ctx, e, workers, want, wantFired)
	if err != nil {
		return nil, err
	}
	if err := n.start(ctx); err != nil {
		return nil, err
	}
	return n, nil
}

// newNode builds a node with the given number of workers over the env's
// open store, without starting it. It finishes when want outcomes have
// been committed (src.done), and its scheduler's fan-out is done when
// wantFired runs were inserted.
func newNode(ctx context.Context, e *env, workers, want, wantFired int) (*node, error) {
	cfg := config.Default()
	cfg.Workers = workers
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = e.dir
	cfg.FernetKeyPath = filepath.Join(e.dir, "fernet.key")
	if e.driver == "postgres" {
		cfg.DBURL = e.dsn // only named in the node's log: the store is e's
	}
	n := &node{done: make(chan error, 1)}
	srv, err := server.New(ctx, cfg, server.Options{
		Handlers: e.reg, Logger: e.log, Store: e.st,
		WrapSource: func(src worker.Source) worker.Source {
			n.src = newCountingSource(src, want)
			return n.src
		},
		WrapSchedulerStore: func(st scheduler.Store) scheduler.Store {
			n.fires = &fireRecorder{Store: st, want: wantFired}
			return n.fires
		},
	})
	if err != nil {
		return nil, err
	}
	if n.src == nil {
		srv.Close()
		return nil, fmt.Errorf("a node needs at least one worker, got %d", workers)
	}
	n.srv, n.name = srv, srv.Name()
	return n, nil
}

// start runs the node and waits until it is ready (its pool claims from
// the moment Run starts it, before that).
func (n *node) start(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.cancel = cancel
	go func() { n.done <- n.srv.Run(runCtx) }()
	select {
	case <-n.srv.Ready():
		return nil
	case err := <-n.done:
		cancel()
		n.done <- err // for stop
		return fmt.Errorf("the node stopped before it was ready: %w", err)
	}
}

// stop shuts the node down as a SIGTERM shuts serve down, and waits for it.
func (n *node) stop() error {
	n.cancel()
	return <-n.done
}
