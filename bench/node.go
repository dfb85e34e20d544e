package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/metrics"
	"github.com/connecthub/connecthub/internal/scheduler"
	"github.com/connecthub/connecthub/internal/secret"
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

// node is one ConnectHub node without its HTTP server: the scheduler, the
// rescuer and the worker pool, wired as serve wires them, with the default
// configuration except the number of workers. Its Source and the
// scheduler's store are wrapped by observers that only count.
type node struct {
	name    string
	sched   *scheduler.Scheduler
	rescuer *worker.Rescuer
	pool    *worker.Worker
	local   *worker.LocalSource
	src     *countingSource
	fires   *fireRecorder
}

// startNode builds and starts a node with the given number of workers. It
// finishes when want outcomes have been committed (src.done), and its
// scheduler's fan-out is done when wantFired runs were inserted.
func startNode(ctx context.Context, e *env, workers, want, wantFired int) (*node, error) {
	cfg := config.Default()
	cfg.Workers = workers
	name := nodeName()

	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	promReg.MustRegister(metrics.NewStatsCollector(e.st, cfg.Queues))

	n := &node{name: name, fires: &fireRecorder{Store: e.st, want: wantFired}}
	var err error
	n.sched, err = scheduler.New(scheduler.Config{Store: n.fires, Clock: clock.Real(), Logger: e.log.With("component", "scheduler"), Metrics: promReg})
	if err != nil {
		return nil, err
	}
	n.rescuer = worker.NewRescuer(worker.RescuerConfig{Store: e.st, LeaseTTL: cfg.LeaseTTL, Logger: e.log.With("component", "rescuer")})
	n.local = worker.NewLocalSource(e.st, e.keys, name, cfg.Queues, cfg.LeaseTTL, time.Now)
	n.src = newCountingSource(n.local, want)
	n.pool, err = worker.New(worker.Config{
		Source: n.src, Registry: e.reg, Node: name, Concurrency: cfg.Workers, Heartbeat: cfg.Heartbeat,
		ShutdownTimeout: cfg.ShutdownTimeout, RunLogMaxBytes: cfg.RunLogMaxBytes,
		Logger: e.log.With("component", "worker"), Metrics: promReg,
	})
	if err != nil {
		n.local.Close()
		return nil, err
	}
	if err := n.sched.Start(ctx); err != nil {
		n.local.Close()
		return nil, err
	}
	if err := n.rescuer.Start(ctx); err != nil {
		n.stop()
		return nil, err
	}
	if err := n.pool.Start(ctx); err != nil {
		n.stop()
		return nil, err
	}
	return n, nil
}

// stop stops the node in serve's order: scheduler, workers, rescuer, then
// the source's subscriptions.
func (n *node) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), config.DefaultShutdownTimeout+10*time.Second)
	defer cancel()
	errs := []error{n.sched.Stop(ctx), n.pool.Stop(ctx), n.rescuer.Stop(ctx), n.local.Close()}
	return errors.Join(errs...)
}

// nodeName is hostname-pid, like serve's.
func nodeName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "connecthub"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}
