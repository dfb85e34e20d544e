// Package server assembles and runs one ConnectHub node: the store, the
// service, the HTTP API and admin UI, the scheduler, the rescuer, the node
// registry and, when the node runs workers, its worker pool. It owns the
// order in which they start and stop and the two-phase drain of a
// shutdown, so that `connecthub serve`, the benchmark and the end-to-end
// tests all run the same node.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/adminui"
	"github.com/connecthub/connecthub/internal/auth"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/httpapi"
	"github.com/connecthub/connecthub/internal/logging"
	"github.com/connecthub/connecthub/internal/maintenance"
	"github.com/connecthub/connecthub/internal/metrics"
	"github.com/connecthub/connecthub/internal/notify"
	"github.com/connecthub/connecthub/internal/scheduler"
	"github.com/connecthub/connecthub/internal/service"
	"github.com/connecthub/connecthub/internal/store"
	apitoken "github.com/connecthub/connecthub/internal/token"
	"github.com/connecthub/connecthub/internal/tracing"
	"github.com/connecthub/connecthub/internal/worker"
	"github.com/connecthub/connecthub/internal/workerproto"
	"github.com/connecthub/connecthub/internal/workerproto/runrules"
)

// Options are what a node takes besides its configuration: the handlers of
// the build and, for tests and the benchmark, hooks that observe it.
type Options struct {
	// Handlers are the handlers the node runs; they are copied (see
	// Handlers), so the registry may be shared.
	Handlers *handler.Registry
	// LogOutput receives the log when it is not written to CONNECTHUB_LOG_DIR
	// alone; nil means os.Stderr. Logger, when set, is used instead.
	LogOutput io.Writer
	Logger    *slog.Logger
	// Store, when set, is an open store the node uses instead of opening
	// the configured one; the caller keeps it and closes it after Run.
	Store store.Store
	// WrapSource and WrapSchedulerStore, when set, wrap what the worker pool
	// claims from and what the scheduler fires into, for a caller that
	// counts or times those calls (the benchmark). They must not change
	// what the calls do.
	WrapSource         func(worker.Source) worker.Source
	WrapSchedulerStore func(scheduler.Store) scheduler.Store
	// Getenv, when set, is read for the OTEL_* variables that turn tracing
	// on instead of the process's environment, for tests.
	Getenv func(string) string
}

// Server is one node, built by New and run by Run.
type Server struct {
	cfg  *config.Config
	log  *slog.Logger
	name string

	st      store.Store
	watched store.Store   // st, its writes observed by health
	health  *store.Health // whether st can write
	handler *handler.Registry
	svc     *service.Service
	http    http.Handler // /admin → UI, everything else → API
	sched   *scheduler.Scheduler
	rescuer *maintenance.Rescuer
	auditor *maintenance.AuditCleaner // keeps the audit log to its retention
	notify  *notifyRuntime
	compact *maintenance.StatsCompactor
	cleaner *maintenance.RunCleaner
	pool    *worker.Worker // nil when CONNECTHUB_WORKERS=0
	nodes   *nodeRuntime
	tracing *tracing.Tracing // nil when tracing is off
	// apiRoutes and uiRoutes list every route with its role (Routes).
	apiRoutes []httpapi.Route
	uiRoutes  []adminui.Route

	draining atomic.Bool
	ready    chan struct{}
	addr     string // the bound address, set before ready closes

	// closers release what New acquired, in reverse order, once.
	closers   []func() error
	closeOnce sync.Once
}

// New builds a node from cfg: it opens the log, the admin token, the store
// and the key file (checked against the store), and builds every
// component, but starts nothing.
// Run starts it; Close releases what New acquired when Run is never called.
func New(ctx context.Context, cfg *config.Config, opts Options) (_ *Server, err error) {
	s := &Server{cfg: cfg, ready: make(chan struct{})}
	defer func() {
		if err != nil {
			s.Close()
			err = explainDataDir(cfg, err)
		}
	}()
	s.log = opts.Logger
	if s.log == nil {
		log, closeLog, err := OpenLog(cfg, opts.LogOutput)
		if err != nil {
			return nil, err
		}
		s.log = log
		s.closers = append(s.closers, closeLog)
	} else {
		logWarnings(s.log, cfg)
	}
	log := s.log
	if err := os.MkdirAll(cfg.DataDir, privateDirMode); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	warnLooseModes(log, cfg)
	token, tokenPath, err := adminToken(cfg)
	if err != nil {
		return nil, err
	}
	if tokenPath != "" {
		log.Info("admin token file (use it as Authorization: Bearer <token>)", "path", tokenPath)
	}
	if s.handler, err = Handlers(cfg, opts.Handlers); err != nil {
		return nil, err
	}

	s.st = opts.Store
	if s.st == nil {
		if db := cfg.SQLitePath(); db != "" {
			if err := os.MkdirAll(filepath.Dir(db), privateDirMode); err != nil {
				return nil, fmt.Errorf("create database directory: %w", err)
			}
			release, err := lockDatabase(db)
			if err != nil {
				return nil, err
			}
			s.closers = append(s.closers, release) // after the store closes
		}
		if s.st, err = OpenStore(ctx, cfg, log); err != nil {
			return nil, err
		}
		s.closers = append(s.closers, s.st.Close)
	}
	st := s.st
	// The key file is read once the database is open, because only the
	// database can tell whether it is the right one.
	keys, err := openKeys(ctx, cfg.FernetKeyPath, st, log)
	if err != nil {
		return nil, err
	}
	// Masked in every run's texts, so that a job cannot store them in
	// clear. The key file is read after openKeys, which may create it.
	serverSecrets, err := runrules.ServerSecrets(token, cfg.AdminPassword.Value(), cfg.WorkerToken.Value(), cfg.DBURL, cfg.FernetKeyPath)
	if err != nil {
		return nil, err
	}
	s.name = NodeName()
	// Tracing (off unless an OTLP endpoint is set) is flushed when the
	// node closes, after the pool and the HTTP server have stopped.
	if s.tracing, err = tracing.Setup(ctx, tracing.Config{Getenv: opts.Getenv, Version: connecthub.Version, Instance: s.name, Logger: log}); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.tracing.Close)
	// Every component writes through a store that s.health watches, so
	// that readiness sees a database that refuses writes (disk full,
	// read-only) even though it still answers a ping.
	s.health = store.NewHealth(s.probeStorage, 0)
	st = store.Watch(s.st, s.health)
	s.watched = st

	// The components, in the order they depend on each other.
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	promReg.MustRegister(metrics.NewStatsCollector(st, cfg.Queues))
	if cc, ok := s.st.(metrics.ConnectionCounter); ok {
		promReg.MustRegister(metrics.NewConnectionsGauge(cc))
	}
	if s.nodes, err = newNodeRuntime(st, cfg, log, promReg); err != nil {
		return nil, err
	}
	s.svc, err = service.New(service.Config{
		Store: st, Keys: keys, Registry: s.handler, Logger: log, Nodes: s.nodes.reg,
		DisabledHandlers: DisabledHandlers(cfg),
		Defaults:         connecthub.JobDefaults{Timezone: cfg.Timezone, RetryBackoff: connecthub.Duration(cfg.RetryBackoff)},
	})
	if err != nil {
		return nil, err
	}
	// The built-in calendars (cn) are in the database before the scheduler
	// reads them; an upgrade that ships a new year adds it here.
	if changed, err := s.svc.EnsureBuiltinCalendars(ctx); err != nil {
		return nil, fmt.Errorf("store the built-in calendars: %w", err)
	} else if len(changed) > 0 {
		log.Info("built-in calendars stored or extended", "calendars", changed)
	}
	// One budget of failed authentication attempts per client address for
	// the API and the admin UI together.
	guard, err := auth.NewGuard(auth.GuardConfig{TrustedProxies: cfg.TrustedProxyPrefixes(), Logger: log, Metrics: promReg})
	if err != nil {
		return nil, err
	}
	s.notify = newNotifyRuntime(st, keys, cfg, s.name, log, promReg)
	// Channel secrets change while the server runs: the masks reload them
	// when a channel changes here, and every few seconds for changes made
	// on another replica.
	serverMasks := runrules.NewServerMasks(serverSecrets, func(ctx context.Context) ([]string, error) {
		return notify.SecretValues(ctx, st, keys)
	}, 0)
	s.notify.svc.ChannelsChanged = serverMasks.Invalidate
	// The admin web UI (/admin); its session cookie also authorises the API.
	apiTokens, err := apitoken.New(st, nil) // API tokens with scopes (connecthub token ...)
	if err != nil {
		return nil, err
	}
	signOn, err := newSSO(cfg, token, log)
	if err != nil {
		return nil, err
	}
	ui, err := adminui.New(adminui.Config{Service: s.svc, AdminToken: token, Sessions: st, Username: cfg.AdminUsername, SSO: signOn, SSOName: cfg.OIDCName,
		Password: cfg.AdminPassword.Value(), SessionTTL: cfg.SessionTTL, Timezone: cfg.Timezone, Node: s.name, Nodes: s.svc,
		Tokens: apiTokens, SessionList: st, Guard: guard, Notify: s.notify.svc, Logger: log.With("component", "adminui")})
	if err != nil {
		return nil, err
	}
	proc := &serverProc{name: s.name, max: cfg.Workers, ping: st.Ping}
	wp, err := workerproto.New(workerproto.Config{Store: st, Nodes: s.nodes.reg, Keys: keys, LeaseTTL: cfg.LeaseTTL, Heartbeat: cfg.Heartbeat,
		RunLogMaxBytes: cfg.RunLogMaxBytes, RetryBackoffMax: cfg.RetryBackoffMax, Ready: s.readiness, Clock: clock.Real(), Logger: log,
		ServerMasks: serverMasks})
	if err != nil {
		return nil, err
	}
	api, err := httpapi.New(httpapi.Config{
		Service: s.svc, AdminToken: token, MaxBodyBytes: cfg.MaxBodyBytes, Ready: s.readiness, Node: s.name, Logger: log,
		Metrics:      promhttp.HandlerFor(promReg, promhttp.HandlerOpts{Registry: promReg}),
		Sessions:     ui.Sessions(), // admin UI session cookie + CSRF token
		SessionStore: st,            // GET/DELETE /api/v1/sessions
		Tokens:       apiTokens,
		Worker:       wp,   // the worker protocol (/api/v1/worker)
		Proc:         proc, // this node's proc API (/api/v1/proc); its pool is set below
		Guard:        guard,
		Notify:       s.notify.svc, // channels, alert rules, the delivery log
	})
	if err != nil {
		return nil, err
	}
	s.http = httpapi.Traced(ui.Wrap(api), s.tracing)
	s.apiRoutes, s.uiRoutes = api.Routes(), ui.Routes()

	var schedStore scheduler.Store = st
	if opts.WrapSchedulerStore != nil {
		schedStore = opts.WrapSchedulerStore(schedStore)
	}
	if s.sched, err = scheduler.New(scheduler.Config{Store: schedStore, Clock: clock.Real(), Logger: log, Metrics: promReg}); err != nil {
		return nil, err
	}
	s.rescuer = maintenance.NewRescuer(maintenance.RescuerConfig{Store: st, LeaseTTL: cfg.LeaseTTL, Logger: log})
	if s.compact, err = maintenance.NewStatsCompactor(maintenance.StatsCompactorConfig{Store: st, Logger: log}); err != nil {
		return nil, err
	}
	s.auditor = maintenance.NewAuditCleaner(maintenance.AuditCleanerConfig{Logger: log, StartDelay: cfg.CleanDelay,
		Purge: func(ctx context.Context) (int64, error) { return s.svc.AuditPurge(ctx, cfg.AuditRetention) }})
	if s.cleaner, err = newRunCleaner(s.svc, cfg, log, promReg); err != nil {
		return nil, err
	}
	if cfg.Workers > 0 {
		// The pool claims only the handlers it has, so runs meant for remote
		// workers on the same queues (py: jobs of a Python worker) wait for them.
		var names []string
		for _, spec := range s.handler.List() {
			names = append(names, spec.Name)
		}
		local := worker.NewLocalSource(st, keys, s.name, cfg.Queues, cfg.LeaseTTL, time.Now,
			worker.WithServerMasks(serverMasks), worker.WithHandlers(names))
		// Closers run in reverse: the source closes after the worker
		// stopped and before the store closes.
		s.closers = append(s.closers, local.Close)
		var src worker.Source = local
		if opts.WrapSource != nil {
			src = opts.WrapSource(src)
		}
		s.pool, err = worker.New(worker.Config{
			Source: src, Registry: s.handler, Node: s.name, Concurrency: cfg.Workers, Heartbeat: cfg.Heartbeat,
			ShutdownTimeout: cfg.ShutdownTimeout, RunLogMaxBytes: cfg.RunLogMaxBytes, RetryBackoffMax: cfg.RetryBackoffMax,
			Logger: log, Metrics: promReg, Tracing: s.tracing,
		})
		if err != nil {
			return nil, err
		}
		proc.pool = s.pool // before the HTTP server starts: no request sees it unset
	}
	return s, nil
}

// OpenLog opens the log cfg configures, writing to out (nil means
// os.Stderr) unless cfg sends it to files only, and logs the
// configuration's warnings. The remote worker opens its log the same way.
func OpenLog(cfg *config.Config, out io.Writer) (*slog.Logger, func() error, error) {
	if out == nil {
		out = os.Stderr
	}
	log, closer, err := logging.New(logging.Options{Format: cfg.LogFormat, Level: cfg.LogLevel, Dir: cfg.LogDir, Stdout: out})
	if err != nil {
		return nil, nil, err
	}
	logWarnings(log, cfg)
	return log, closer.Close, nil
}

// logWarnings logs the configuration's findings an operator should see.
func logWarnings(log *slog.Logger, cfg *config.Config) {
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
}

// Name is the node's name in the registry and on the runs it executes.
func (s *Server) Name() string { return s.name }

// Service is the node's service, the layer the API and the UI call.
func (s *Server) Service() *service.Service { return s.svc }

// Ready is closed once the node accepts connections and runs its services.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Routes returns every API route and every admin UI page and form behind
// the login, each with the least role it needs, so that a test can hold
// every one of them to its role.
func (s *Server) Routes() ([]httpapi.Route, []adminui.Route) {
	return s.apiRoutes, s.uiRoutes
}

// Addr is the address the HTTP server is bound to, "" until Ready is
// closed.
func (s *Server) Addr() string {
	select {
	case <-s.ready:
		return s.addr
	default:
		return ""
	}
}

// readiness answers /health/ready: not ready while draining, when the
// database does not answer (db_unavailable), or when it answers but refuses
// writes (storage_error: disk full, read-only, I/O error).
func (s *Server) readiness(ctx context.Context) (bool, string) {
	if s.draining.Load() {
		return false, "draining"
	}
	if err := s.st.Ping(ctx); err != nil {
		return false, store.CodeDBUnavailable
	}
	if status := s.health.Check(ctx); status != "" {
		return false, status
	}
	return true, ""
}

// probeStorage is the write that tells readiness, while the database
// refuses writes, when it takes them again without waiting for traffic: a
// keepalive of this node's own registration, which its heartbeat writes
// anyway. A node without a worker pool has no registration; its readiness
// recovers with the next write that stores something (an API call, a
// cron firing, a remote worker's keepalive).
func (s *Server) probeStorage(ctx context.Context) error {
	if s.pool == nil {
		return nil
	}
	_, err := s.watched.NodeKeepalive(ctx, store.NodeKeepaliveParams{
		Name: s.name, Running: s.pool.Running(), Now: time.Now().UTC()})
	return err
}

// Close releases what New acquired (the worker's source, the store when
// New opened it, the log). Run calls it when it returns; calling it again
// does nothing.
func (s *Server) Close() error {
	var errs []error
	s.closeOnce.Do(func() {
		for i := len(s.closers) - 1; i >= 0; i-- {
			errs = append(errs, s.closers[i]())
		}
	})
	return errors.Join(errs...)
}

// Run serves until ctx is cancelled, then shuts down in order: not ready at
// once; keep serving for the shutdown delay; stop firing and claiming; in-flight runs finish within the
// shutdown timeout, the rest are handed back; the HTTP server drains. It
// returns nil after a shutdown, or the error that stopped the node. Call it
// once.
func (s *Server) Run(ctx context.Context) error {
	defer s.Close()
	cfg, log := s.cfg, s.log
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	gate := &httpGate{}
	srv := &http.Server{Handler: gate.wrap(s.http), ConnState: gate.connState,
		ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()

	// Services run on a context of their own: ctx ends the run, not the
	// services, which stop in order below.
	svcCtx := context.WithoutCancel(ctx)
	s.addr = ln.Addr().String()
	if err := s.start(svcCtx); err != nil {
		_ = srv.Close()
		return err
	}
	log.Info("connecthub serving", "version", connecthub.Version, "listen", s.addr, "url", "http://"+DisplayAddr(s.addr),
		"db", cfg.DBDriver(), "node", s.name, "workers", cfg.Workers)
	close(s.ready)

	failed := func(err error) error {
		log.Error("http server failed", "err", err)
		s.draining.Store(true)
		s.stop()
		return err
	}
	select {
	case <-ctx.Done():
	case err := <-srvErr:
		return failed(err)
	}
	s.draining.Store(true)
	if cfg.ShutdownDelay > 0 {
		log.Info("shutting down: not ready, still serving for the shutdown delay", "delay", cfg.ShutdownDelay)
		if err := waitShutdownDelay(cfg.ShutdownDelay, srvErr); err != nil {
			return failed(err)
		}
	}
	log.Info("shutting down: not ready, stopping scheduler and claims", "timeout", cfg.ShutdownTimeout)
	s.stop()
	shutdownHTTP(srv, ln, gate, log)
	log.Info("connecthub stopped")
	return nil
}

// start starts the background services, in this order: the scheduler, the
// rescuer, the worker pool, then the node registry (its reaper and, with a
// pool, this node's registration: from then on GET /nodes lists it).
func (s *Server) start(ctx context.Context) error {
	if err := s.sched.Start(ctx); err != nil {
		return err
	}
	if err := s.rescuer.Start(ctx); err != nil {
		return err
	}
	if err := s.auditor.Start(ctx); err != nil {
		return err
	}
	if err := s.notify.start(ctx); err != nil {
		return err
	}
	if err := s.compact.Start(ctx); err != nil {
		return err
	}
	if err := s.cleaner.Start(ctx); err != nil {
		return err
	}
	if s.pool != nil {
		if err := s.pool.Start(ctx); err != nil {
			return err
		}
	}
	return s.nodes.start(ctx, s.name, advertisedURL(s.cfg.Listen, s.addr), s.cfg, s.handler, s.pool)
}

// stop stops the background services: the node reports itself
// deactivating; the scheduler stops firing; the pool stops claiming, lets
// its runs in flight finish within the shutdown timeout and hands the rest
// back; the node deregisters and the reaper stops; the rescuer stops last.
func (s *Server) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout+10*time.Second)
	defer cancel()
	s.nodes.deactivate(ctx)
	if err := s.sched.Stop(ctx); err != nil {
		s.log.Warn("scheduler stop", "err", err)
	}
	if s.pool != nil {
		if err := s.pool.Stop(ctx); err != nil {
			s.log.Warn("worker stop", "err", err)
		}
	}
	s.nodes.stop(ctx)
	if err := s.auditor.Stop(ctx); err != nil {
		s.log.Warn("audit cleaner stop", "err", err)
	}
	s.notify.stop(ctx, s.log)
	if err := s.rescuer.Stop(ctx); err != nil {
		s.log.Warn("rescuer stop", "err", err)
	}
	if err := s.compact.Stop(ctx); err != nil {
		s.log.Warn("stats compactor stop", "err", err)
	}
	if err := s.cleaner.Stop(ctx); err != nil {
		s.log.Warn("run cleaner stop", "err", err)
	}
}
